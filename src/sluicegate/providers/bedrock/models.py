"""Bedrock model ids and URLs: the `bedrock/…` model string, its model family, its catalog entry, its region and
the runtime URL it is served at.

Model ids are `<vendor>.<model>` (`anthropic.claude-sonnet-4-5-20250929-v1:0`), optionally behind a cross-region
inference profile prefix (`us.`, `eu.`, `apac.`, `global.` …) or given as an ARN. The vendor namespace is part of
AWS's id scheme and decides which `additionalModelRequestFields` dialect a model speaks; capabilities still come
from the catalog.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from sluicegate.catalog.lookup import ModelInfo, find_model
from sluicegate.errors import BadRequestError
from sluicegate.providers.base import Call

# Cross-region (system-defined) inference profile prefixes:
# https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
PROFILE_PREFIXES = frozenset({"us", "us-gov", "eu", "apac", "global", "jp", "au", "ca"})
# LiteLLM's route prefixes: `bedrock/converse/<id>` names the API explicitly; `bedrock/invoke/<id>` asked for the
# InvokeModel route, which serves the same models — here every chat call goes through Converse.
_ROUTE_PREFIXES = ("converse/", "invoke/")
_REGION = re.compile(r"^[a-z0-9-]+$")
# What botocore percent-encodes in a URI label (botocore.utils.percent_encode: everything but -._~), so the
# path — and the SigV4 signature over it — is the AWS SDK's: ":" becomes %3A and "/" (in ARNs) %2F. Both
# transports send the URL exactly as built (see transport/async_client.py).
_SAFE = "-._~"


def model_id(call: Call) -> str:
    """The Bedrock model id (or ARN) of a call: `bedrock/converse/<id>` → `<id>`."""
    name = call.model
    for prefix in _ROUTE_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _resource(model: str) -> str:
    """The model id inside an ARN (`…:foundation-model/<id>`, `…:inference-profile/<id>`), else the id itself."""
    if model.startswith("arn:"):
        resource = model.split(":", 5)[-1]
        return resource.split("/", 1)[1] if "/" in resource else resource
    return model


def family(model: str) -> str | None:
    """The vendor namespace of a model id: "anthropic", "amazon", "meta", "mistral", "cohere" …; None for an
    application inference profile or custom model ARN, whose id does not say."""
    resource = _resource(model)
    parts = resource.split(".")
    if len(parts) > 2 and parts[0] in PROFILE_PREFIXES:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 and re.fullmatch(r"[a-z0-9-]+", parts[0]) else None


def model_info(model: str) -> ModelInfo | None:
    """The catalog entry for a model id, profile id or ARN (the catalog holds the profile ids too)."""
    resource = _resource(model)
    info = find_model(resource, "bedrock")
    if info is None and resource.split(".", 1)[0] in PROFILE_PREFIXES:
        info = find_model(resource.split(".", 1)[1], "bedrock")
    return info


def region(call: Call) -> str | None:
    """The AWS region of a call: aws_region_name (or its environment variables), else the region of an ARN."""
    value = call.credentials.extra.get("aws_region_name")
    if not value:
        model = model_id(call)
        if model.startswith("arn:"):
            value = model.split(":")[3] or None
    if value is None:
        return None
    if not isinstance(value, str) or not _REGION.match(value):
        raise BadRequestError(f"aws_region_name must look like 'us-east-1', not {value!r}",
                              provider=call.provider, model=call.model, param="aws_region_name")
    return value


def require_region(call: Call) -> str:
    found = region(call)
    if found is None:
        raise BadRequestError(
            f"no AWS region for {call.provider}/{call.model}: pass aws_region_name=… or set AWS_REGION_NAME, "
            "AWS_REGION or AWS_DEFAULT_REGION (or a region in the AWS profile)",
            provider=call.provider, model=call.model, param="aws_region_name")
    return found


def base_url(call: Call) -> str:
    """aws_bedrock_runtime_endpoint, else api_base, else https://bedrock-runtime.<region>.amazonaws.com."""
    given = call.credentials.extra.get("aws_bedrock_runtime_endpoint") or call.credentials.api_base
    if given:
        return str(given).rstrip("/")
    return f"https://bedrock-runtime.{require_region(call)}.amazonaws.com"


def url(call: Call, operation: str) -> str:
    """The URL of an operation on the call's model: "converse", "converse-stream" or "invoke"."""
    return f"{base_url(call)}/model/{quote(model_id(call), safe=_SAFE)}/{operation}"
