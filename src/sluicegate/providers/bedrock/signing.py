"""AWS credentials and request signing for Bedrock: the botocore credential chain (the adapter's `authenticate`
step, the only I/O it does) and SigV4 over the exact body bytes sent.

Resolution order, as LiteLLM documents it: a Bedrock API key (`api_key` / AWS_BEARER_TOKEN_BEDROCK) skips SigV4
altogether; otherwise the base credentials are the explicit aws_access_key_id/aws_secret_access_key
(/aws_session_token), else aws_profile_name, else botocore's default chain (environment, shared files,
container and instance metadata); aws_role_name then assumes that role through STS on top of them, or — with
aws_web_identity_token — through AssumeRoleWithWebIdentity. Resolved credentials are cached per distinct option
set; botocore refreshes temporary ones before they expire.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import replace
from typing import Any

from sluicegate.errors import AuthenticationError, BadRequestError
from sluicegate.providers.base import Call, Credentials
from sluicegate.providers.bedrock import models

SIGNING_NAME = "bedrock"  # the service's signingName (botocore data/bedrock-runtime/…/service-2.json)
_FROZEN = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
_CHAIN_OPTIONS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_profile_name",
                  "aws_role_name", "aws_session_name", "aws_external_id", "aws_web_identity_token",
                  "aws_sts_endpoint", "aws_region_name")
_INSTALL = "pip install 'sluicegate[bedrock]'"

_lock = threading.Lock()
_cache: dict[str, Any] = {}  # option-set digest → botocore credentials (refreshable ones refresh themselves)
_region_cache: dict[str, str | None] = {}  # profile → the region its config names


def _botocore() -> Any:
    try:
        import botocore.exceptions
        import botocore.session
    except ImportError as error:
        raise BadRequestError(f"Bedrock's AWS credentials and signing need botocore: {_INSTALL}",
                              provider="bedrock", code="missing_dependency") from error
    return botocore


def authenticate(call: Call) -> Credentials:
    """The call's credentials with frozen AWS keys in `extra` (or unchanged when a Bedrock API key is set)."""
    creds = call.credentials
    if creds.api_key:
        return creds
    options = {name: creds.extra[name] for name in _CHAIN_OPTIONS if creds.extra.get(name)}
    extra = dict(creds.extra)
    if not options.get("aws_region_name") and models.region(call) is None:
        found = _profile_region(options.get("aws_profile_name"))
        if found:
            extra["aws_region_name"] = found
            options["aws_region_name"] = found
    frozen = _frozen(options, call)
    if not frozen.access_key or not frozen.secret_key:
        raise _no_credentials(call)
    extra.update(aws_access_key_id=frozen.access_key, aws_secret_access_key=frozen.secret_key)
    if frozen.token:
        extra["aws_session_token"] = frozen.token
    else:
        extra.pop("aws_session_token", None)
    return replace(creds, extra=extra)


def _frozen(options: dict[str, Any], call: Call) -> Any:
    botocore = _botocore()
    try:
        return _credentials_for(options, call).get_frozen_credentials()
    except botocore.exceptions.BotoCoreError as error:  # no profile file, metadata unreachable, bad token file
        raise AuthenticationError(f"could not resolve AWS credentials: {error}", provider=call.provider,
                                  model=call.model) from error
    except botocore.exceptions.ClientError as error:  # STS refused the role (AccessDenied, ExpiredToken …)
        raise AuthenticationError(f"STS refused to issue credentials: {error}", provider=call.provider,
                                  model=call.model) from error


def clear_cache() -> None:
    """Forget every resolved credential (tests; a rotated profile)."""
    with _lock:
        _cache.clear()
        _region_cache.clear()


def _digest(options: dict[str, Any]) -> str:
    # The key holds secrets: keep a digest of them, not the values, as the dictionary key.
    text = "\x00".join(f"{name}={options.get(name, '')}" for name in _CHAIN_OPTIONS)
    return hashlib.sha256(text.encode()).hexdigest()


def _credentials_for(options: dict[str, Any], call: Call) -> Any:
    key = _digest(options)
    with _lock:  # one resolution per option set, even when many threads start at once
        found = _cache.get(key)
        if found is None:
            found = _resolve(options, call)
            _cache[key] = found
    return found


def _resolve(options: dict[str, Any], call: Call) -> Any:
    botocore = _botocore()
    from botocore.credentials import Credentials as BotoCredentials

    session = _session(botocore, options.get("aws_profile_name"), call)
    if options.get("aws_access_key_id") and options.get("aws_secret_access_key"):
        base = BotoCredentials(options["aws_access_key_id"], options["aws_secret_access_key"],
                               options.get("aws_session_token"))
    elif options.get("aws_web_identity_token") and options.get("aws_role_name"):
        base = None  # AssumeRoleWithWebIdentity is unsigned: it needs no base credentials
    else:
        base = session.get_credentials()
    role = options.get("aws_role_name")
    if role:
        return _assumed(session, base, role, options)
    if base is None:
        raise _no_credentials(call)
    return base


def _session(botocore: Any, profile: str | None, call: Call) -> Any:
    from botocore.exceptions import ProfileNotFound

    try:
        session = botocore.session.Session(profile=profile)
        session.get_scoped_config()  # raises now, not mid-request, when the profile does not exist
        return session
    except ProfileNotFound as error:
        raise AuthenticationError(f"AWS profile {profile!r} is not in the AWS config files: {error}",
                                  provider=call.provider, model=call.model) from error


def _assumed(session: Any, base: Any, role: str, options: dict[str, Any]) -> Any:
    """Temporary credentials for `role`, refreshed through STS before they expire."""
    from botocore.credentials import (
        AssumeRoleCredentialFetcher,
        AssumeRoleWithWebIdentityCredentialFetcher,
        DeferredRefreshableCredentials,
    )

    def client_creator(service: str, **kwargs: Any) -> Any:
        return session.create_client(service, region_name=options.get("aws_region_name"),
                                     endpoint_url=options.get("aws_sts_endpoint"), **kwargs)

    extra_args: dict[str, Any] = {"RoleSessionName": options.get("aws_session_name") or "sluicegate"}
    token = options.get("aws_web_identity_token")
    if token:
        loader = _token_loader(str(token))
        web = AssumeRoleWithWebIdentityCredentialFetcher(client_creator, loader, role, extra_args=extra_args)
        return DeferredRefreshableCredentials(web.fetch_credentials, "assume-role-with-web-identity")
    if options.get("aws_external_id"):
        extra_args["ExternalId"] = options["aws_external_id"]
    if base is None:
        raise AuthenticationError(f"no AWS credentials to assume {role} with: set AWS credentials (keys, a "
                                  "profile or an instance role) or pass aws_web_identity_token")
    fetcher = AssumeRoleCredentialFetcher(client_creator, base, role, extra_args=extra_args)
    return DeferredRefreshableCredentials(fetcher.fetch_credentials, "assume-role")


def _token_loader(token: str) -> Any:
    """The OIDC token itself, or a file holding it (as AWS_WEB_IDENTITY_TOKEN_FILE does), re-read on refresh."""
    if os.path.isfile(token):
        def read() -> str:
            with open(token, encoding="utf-8") as handle:
                return handle.read().strip()
        return read
    return lambda: token


def _profile_region(profile: str | None) -> str | None:
    key = profile or ""
    with _lock:
        if key not in _region_cache:
            botocore = _botocore()
            try:
                _region_cache[key] = botocore.session.Session(profile=profile).get_config_variable("region")
            except botocore.exceptions.BotoCoreError:  # no such profile, a broken file: no region from it
                _region_cache[key] = None
        return _region_cache[key]


def _no_credentials(call: Call) -> AuthenticationError:
    return AuthenticationError(
        f"no AWS credentials for {call.provider}/{call.model}: pass aws_access_key_id/aws_secret_access_key, "
        "aws_profile_name or aws_role_name, set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile, or use a "
        "Bedrock API key (api_key=… or AWS_BEARER_TOKEN_BEDROCK)", provider=call.provider, model=call.model)


def auth_headers(call: Call, method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """The headers that authenticate a request: `Authorization: Bearer` for a Bedrock API key, else SigV4 over
    exactly `body` (Authorization, X-Amz-Date and X-Amz-Security-Token for temporary credentials)."""
    creds = call.credentials
    if creds.api_key:
        return {**headers, "authorization": f"Bearer {creds.api_key}"}
    access_key = creds.extra.get("aws_access_key_id")
    secret_key = creds.extra.get("aws_secret_access_key")
    if not access_key or not secret_key:
        raise _no_credentials(call)
    _botocore()
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    signer = SigV4Auth(BotoCredentials(access_key, secret_key, creds.extra.get("aws_session_token")),
                       SIGNING_NAME, models.require_region(call))
    signer.add_auth(request)
    return {name.lower(): str(value) for name, value in request.headers.items()}
