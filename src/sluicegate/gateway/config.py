"""LiteLLM's proxy config.yaml → a typed GatewayConfig, or one ConfigError naming the file, line and key.

Reads LiteLLM's layout unchanged: model_list, litellm_settings, router_settings, general_settings,
environment_variables and include. It applies nothing: the server sets `environment` and builds the groups.
Which keys are honoured lives in `config_keys.py`; reading the YAML (file:line marks, include:) in `config_yaml.py`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from sluicegate.errors import BadRequestError, ConfigError
from sluicegate.gateway import config_keys
from sluicegate.gateway.config_keys import Support
from sluicegate.gateway.config_yaml import Doc, KeyPath, apply_includes, dotted, located, read_yaml
from sluicegate.providers import registry
from sluicegate.resolve import resolve_model
from sluicegate.router.retries import check_policy
from sluicegate.router.strategies import STRATEGIES

_ENV_PREFIX = "os.environ/"
_DEFAULT_MAX_REQUEST_SIZE_MB = 32.0
_EMBEDDED = "<embedded defaults>"


@dataclass(frozen=True, slots=True, repr=False)
class Deployment:
    model_name: str  # the public name clients send
    params: dict[str, Any]  # litellm_params: os.environ/ values resolved, keys exactly as written
    model_info: dict[str, Any]
    id: str  # model_info.id, else a stable hash of (model_name, params minus secrets); x-litellm-model-id
    source: str  # "config.yaml:12", where the entry starts

    def __repr__(self) -> str:
        return (f"Deployment(model_name={self.model_name!r}, params={redact(self.params)!r}, "
                f"model_info={redact(self.model_info)!r}, id={self.id!r}, source={self.source!r})")


@dataclass(frozen=True, slots=True, repr=False)
class GatewayConfig:
    deployments: tuple[Deployment, ...]
    master_key: str | None  # general_settings.master_key, else $LITELLM_MASTER_KEY
    max_request_size_mb: float  # general_settings.max_request_size_mb, default 32
    database_url: str | None  # general_settings.database_url or $DATABASE_URL; None: the embedded SQLite file
    litellm_settings: dict[str, Any]  # only the keys sluicegate honours (see config_keys.py)
    router_settings: dict[str, Any]
    general_settings: dict[str, Any]
    environment: dict[str, str]  # environment_variables from the file, for the server to apply
    warnings: tuple[str, ...]  # "file:line: message" each
    path: str | None

    def __repr__(self) -> str:
        return (f"GatewayConfig(path={self.path!r}, deployments={list(self.deployments)!r}, "
                f"master_key={_masked(self.master_key)!r}, max_request_size_mb={self.max_request_size_mb!r}, "
                f"database_url={_masked(self.database_url)!r}, litellm_settings={redact(self.litellm_settings)!r}, "
                f"router_settings={redact(self.router_settings)!r}, "
                f"general_settings={redact(self.general_settings)!r}, environment={sorted(self.environment)!r}, "
                f"warnings={self.warnings!r})")


def load_config(path: str | os.PathLike[str] | None, *, environ: Mapping[str, str] | None = None,
                allow_unsupported: bool = False) -> GatewayConfig:
    """Read a LiteLLM proxy config; `path=None` gives the embedded defaults (one deployment per provider key set).

    `environ` (default `os.environ`) is read, never written: the file's environment_variables are layered over
    it for `os.environ/NAME` lookups and returned in `GatewayConfig.environment`. With `allow_unsupported`, LiteLLM
    settings sluicegate does not implement yet are dropped with a warning instead of failing the load.

    >>> config = load_config("config.yaml")
    >>> [d.model_name for d in config.deployments]
    """
    env = os.environ if environ is None else environ
    if path is None:
        return _embedded_defaults(env)
    file = os.fspath(path)
    doc = read_yaml(file)
    warnings: list[str] = []
    apply_includes(doc, file, warnings)
    return _Builder(doc, env, allow_unsupported, warnings).build(file)


def check_deployment(entry: Mapping[str, Any], *, source: str, environ: Mapping[str, str] | None = None,
                     warnings: list[str] | None = None) -> Deployment:
    """One model_list entry checked by the rules config.yaml's entries follow (a `/model/new` body, say).

    Its `os.environ/NAME` values are resolved from `environ` (default `os.environ`); its id is `model_info.id`,
    else the same stable hash a config entry gets. Unknown keys are dropped with a message in `warnings`.
    Raises ConfigError whose reason names the key path ("litellm_params.rpm: must be …"), with no file or line.
    """
    env = os.environ if environ is None else environ
    found = [] if warnings is None else warnings
    raw = dict(entry)
    builder = _Builder(Doc({"model_list": [raw]}), env, allow_unsupported=False, warnings=found)
    try:
        deployment = builder._deployment(0, raw, {})
    except ConfigError as exc:
        raise ConfigError(exc.reason.removeprefix("model_list[0].")) from None
    found[:] = [message.split(": ", 1)[-1].replace("model_list[0].", "") for message in found]  # no file:line
    return replace(deployment, source=source)


def config_path_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """$SLUICEGATE_CONFIG, else LiteLLM's $CONFIG_FILE_PATH, else None."""
    env = os.environ if environ is None else environ
    return env.get("SLUICEGATE_CONFIG") or env.get("CONFIG_FILE_PATH") or None


def is_secret_key(name: str) -> bool:
    """Whether a setting's value must never be shown: api_key, master_key, aws_secret_access_key, *_token …"""
    lowered = name.lower()
    if lowered in ("database_url", "redis_url"):  # URLs that carry a password
        return True
    if "cost" in lowered:  # input_cost_per_token is a price
        return False
    words = lowered.replace("-", "_").split("_")
    return (any(part in lowered for part in ("key", "secret", "password", "credential", "authorization"))
            or "token" in words or lowered.endswith("token"))  # max_tokens is a count, not a token


def redact(value: Any) -> Any:
    """A copy of a settings tree with every secret-named value replaced by "***"."""
    if isinstance(value, dict):
        return {k: "***" if is_secret_key(str(k)) and v is not None else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _masked(value: str | None) -> str | None:
    return None if value is None else "***"


class _Invalid(Exception):
    """A value check failed; the builder adds the file, line and key path."""


def _kind(value: Any) -> str:
    """What a value is, for a message that must not show the value itself (it may come from a secret)."""
    if isinstance(value, bool):
        return "true/false"
    if value == "":
        return "an empty string"
    kinds = {str: "text", dict: "a mapping", list: "a list", type(None): "nothing"}
    return kinds.get(type(value), type(value).__name__)


def _number(value: Any, requirement: str) -> float | int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):  # os.environ/ values arrive as strings
        try:
            return int(value) if value.strip().lstrip("+-").isdigit() else float(value)
        except ValueError:
            pass
    raise _Invalid(f"{requirement} (got {_kind(value)})")


def _whole(minimum: int) -> Callable[[Any], int]:
    requirement = f"must be a whole number, {minimum} or more"

    def check(value: Any) -> int:
        number = _number(value, requirement)
        if isinstance(number, float) or number < minimum:
            raise _Invalid(requirement)
        return number
    return check


def _greater_than_zero(unit: str) -> Callable[[Any], float | int]:
    requirement = f"must be a number of {unit} greater than 0"

    def check(value: Any) -> float | int:
        number = _number(value, requirement)
        if not number > 0:
            raise _Invalid(requirement)
        return number
    return check


_count = _whole(0)
_positive_count = _whole(1)
_seconds = _greater_than_zero("seconds")
_megabytes = _greater_than_zero("megabytes")


def _price(value: Any) -> float | int:
    requirement = "must be a price in USD, 0 or more"
    number = _number(value, requirement)
    if number < 0:
        raise _Invalid(requirement)
    return number


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false (got {_kind(value)})")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"must be a non-empty string (got {_kind(value)})")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string (got {_kind(value)})")
    return value


def _api_version(value: Any) -> str:
    if isinstance(value, datetime.date):  # `api_version: 2024-02-01` unquoted is a YAML date
        return value.isoformat()
    return _text(value)


def _ident(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Invalid("must be a mapping of header names to strings")
    return value


def _non_negative(unit: str) -> Callable[[Any], float | int]:
    requirement = f"must be a number of {unit}, 0 or more"

    def check(value: Any) -> float | int:
        number = _number(value, requirement)
        if number < 0:
            raise _Invalid(requirement)
        return number
    return check


def _strategy(value: Any) -> str:
    if value not in STRATEGIES:
        raise _Invalid(f"must be one of {', '.join(STRATEGIES)}")
    return str(value)


def _strategy_args(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping (got {_kind(value)})")
    unknown = sorted(set(value) - _STRATEGY_ARGS)
    if unknown:
        raise _Invalid(f"sluicegate reads only {', '.join(sorted(_STRATEGY_ARGS))} here, not {', '.join(unknown)}")
    return {key: _non_negative("seconds")(item) for key, item in value.items()}


def _retry_policy(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping of error type to retries (got {_kind(value)})")
    try:
        return check_policy(value)
    except (TypeError, ValueError) as exc:
        raise _Invalid(str(exc)) from None


def _counts_by_name(value: Any) -> dict[str, int]:
    """{"RateLimitErrorAllowedFails": 10, …}: names to whole numbers ≥ 0."""
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping of error type to a count (got {_kind(value)})")
    return {str(name): _count(count) for name, count in value.items()}


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping (got {_kind(value)})")
    return dict(value)


def _cache_params(value: Any) -> dict[str, Any]:
    """LiteLLM's cache_params; sluicegate reads the Redis connection of `type: redis` (the response cache itself,
    `cache: true`, is a key of its own). The connection fields are checked here, the rest kept as given."""
    params = _mapping(value)
    kind = params.get("type")
    if kind is not None and not isinstance(kind, str):
        raise _Invalid(f"type must be a cache type such as redis (got {_kind(kind)})")
    if kind == "redis":
        for name, check in (("host", _text), ("url", _text), ("port", _whole(1)), ("password", _string),
                            ("db", _count)):
            if params.get(name) is not None:
                try:
                    params[name] = check(params[name])
                except _Invalid as error:
                    raise _Invalid(f"{name} {error}") from None
    return params


def _group_retry_policy(value: Any) -> dict[str, dict[str, int]]:
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping of model group to retry policy (got {_kind(value)})")
    return {str(group): _retry_policy(policy) for group, policy in value.items()}


def _fallbacks(value: Any) -> list[dict[str, list[str]]]:
    entries = [value] if isinstance(value, dict) else value
    if not isinstance(entries, list) or not all(
            isinstance(entry, dict) and all(isinstance(targets, str) or (
                isinstance(targets, list) and all(isinstance(t, str) for t in targets)) for targets in entry.values())
            for entry in entries):
        raise _Invalid("must be a list of {model_group: [fallback model groups]} mappings")
    return [{str(group): [targets] if isinstance(targets, str) else list(targets) for group, targets in entry.items()}
            for entry in entries]


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise _Invalid(f"must be a list of names (got {_kind(value)})")
    return value


def _aliases(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(
            isinstance(target, str) or (isinstance(target, dict) and isinstance(target.get("model"), str))
            for target in value.values()):
        raise _Invalid("must be a mapping of alias to model group (or to {model: group, hidden: true/false})")
    return value


_STRATEGY_ARGS = frozenset({"ttl", "lowest_latency_buffer"})


# (section, key) → the check (and conversion) of its value. Unsupported keys are checked too: a negative rpm is
# broken in LiteLLM as well, whether or not sluicegate honours it.
_CHECKS: dict[tuple[str, str], Callable[[Any], Any]] = {
    **{("litellm_params", key): _text for key in ("model", "api_base", "base_url", "organization",
                                                  "custom_llm_provider", "azure_ad_token")},
    ("litellm_params", "api_key"): _string,  # may be empty, as LiteLLM allows for local servers
    ("litellm_params", "api_version"): _api_version,
    ("litellm_params", "timeout"): _seconds,
    ("litellm_params", "stream_timeout"): _seconds,
    ("litellm_params", "max_retries"): _count,
    ("litellm_params", "cooldown_time"): _non_negative("seconds"),
    ("litellm_params", "rpm"): _count,
    ("litellm_params", "tpm"): _count,
    ("litellm_params", "weight"): _non_negative("relative weight"),
    ("litellm_params", "order"): _count,
    ("litellm_params", "tags"): _names,
    ("litellm_params", "drop_params"): _flag,
    ("litellm_params", "extra_headers"): _headers,
    ("litellm_params", "input_cost_per_token"): _price,
    ("litellm_params", "output_cost_per_token"): _price,
    ("model_info", "id"): _ident,
    ("model_info", "base_model"): _text,
    ("model_info", "mode"): _text,
    ("model_info", "access_groups"): _names,  # a string would be read one character at a time
    ("model_info", "input_cost_per_token"): _price,
    ("model_info", "output_cost_per_token"): _price,
    ("model_info", "max_tokens"): _positive_count,
    ("model_info", "max_input_tokens"): _positive_count,
    ("model_info", "max_output_tokens"): _positive_count,
    ("litellm_settings", "drop_params"): _flag,
    ("litellm_settings", "num_retries"): _count,
    ("litellm_settings", "request_timeout"): _seconds,
    ("litellm_settings", "allowed_fails"): _count,
    **{("litellm_settings", key): _fallbacks for key in ("fallbacks", "context_window_fallbacks",
                                                        "content_policy_fallbacks")},
    ("litellm_settings", "default_fallbacks"): _names,
    ("litellm_settings", "cache_params"): _cache_params,
    ("router_settings", "routing_strategy"): _strategy,
    ("router_settings", "routing_strategy_args"): _strategy_args,
    **{("router_settings", key): _count for key in ("num_retries", "max_retries", "allowed_fails", "max_fallbacks",
                                                    "redis_db")},
    ("router_settings", "allowed_fails_policy"): _counts_by_name,
    ("router_settings", "default_litellm_params"): _mapping,
    ("router_settings", "redis_namespace"): _text,
    ("router_settings", "retry_after"): _non_negative("seconds"),
    ("router_settings", "cooldown_time"): _non_negative("seconds"),
    ("router_settings", "timeout"): _seconds,
    ("router_settings", "stream_timeout"): _seconds,
    ("router_settings", "retry_policy"): _retry_policy,
    ("router_settings", "model_group_retry_policy"): _group_retry_policy,
    **{("router_settings", key): _fallbacks for key in ("fallbacks", "context_window_fallbacks",
                                                       "content_policy_fallbacks")},
    ("router_settings", "default_fallbacks"): _names,
    ("router_settings", "model_group_alias"): _aliases,
    **{("router_settings", key): _flag for key in ("disable_cooldowns", "enable_pre_call_checks",
                                                   "enable_pre_call_check", "enable_tag_filtering",
                                                   "tag_filtering_match_any")},
    ("router_settings", "redis_host"): _text,
    ("router_settings", "redis_port"): _whole(1),
    ("router_settings", "redis_password"): _string,
    ("router_settings", "redis_url"): _text,
    ("general_settings", "master_key"): _text,
    ("general_settings", "max_request_size_mb"): _megabytes,
    ("general_settings", "database_url"): _text,
    ("general_settings", "disable_prisma_schema_update"): _flag,
    ("general_settings", "user_api_key_cache_ttl"): _seconds,
    ("general_settings", "spend_journal_dir"): _text,
    ("general_settings", "proxy_batch_write_at"): _seconds,
    ("general_settings", "model_poll_interval_s"): _seconds,
}


def _check_for(section: str, key: str) -> Callable[[Any], Any] | None:
    if section == "model_info" and key.startswith("supports_"):
        return _flag
    return _CHECKS.get((section, key))


class _Builder:
    """Walks the loaded file once, top to bottom; the first problem raises."""

    def __init__(self, doc: Doc, environ: Mapping[str, str], allow_unsupported: bool,
                 warnings: list[str]) -> None:
        self.doc = doc
        self.env: Mapping[str, str] = environ
        self.allow_unsupported = allow_unsupported
        self.warnings = warnings

    def build(self, file: str) -> GatewayConfig:
        top = {key: value for key, value in self.doc.value.items() if self._is_kept("", (key,))}
        environment = self._environment(top.get("environment_variables"))
        self.env = {**self.env, **environment}  # LiteLLM sets the file's variables over the process's
        sections: dict[str, dict[str, Any]] = {}
        deployments: tuple[Deployment, ...] = ()
        for key, value in top.items():  # in file order, so the error reported is the first in the file
            if key == "model_list":
                deployments = self._deployments(value)
            elif key in ("litellm_settings", "router_settings", "general_settings"):
                sections[key] = self._settings(key, value, (key,))
        general = sections.get("general_settings", {})
        return GatewayConfig(
            deployments=deployments,
            master_key=general.get("master_key") or self.env.get("LITELLM_MASTER_KEY") or None,
            max_request_size_mb=float(general.get("max_request_size_mb", _DEFAULT_MAX_REQUEST_SIZE_MB)),
            database_url=general.get("database_url") or self.env.get("DATABASE_URL") or None,
            litellm_settings=sections.get("litellm_settings", {}),
            router_settings=sections.get("router_settings", {}),
            general_settings=general,
            environment=environment,
            warnings=tuple(self.warnings),
            path=file,
        )

    def _where(self, path: KeyPath) -> tuple[str, int]:
        for end in range(len(path), 0, -1):
            found = self.doc.marks.get(path[:end])
            if found:
                return found
        return next(iter(self.doc.marks.values()), ("", 1))

    def _fail(self, path: KeyPath, reason: str) -> NoReturn:
        file, line = self._where(path)
        raise ConfigError(f"{dotted(path)}: {reason}", file=file, line=line)

    def _warn(self, path: KeyPath, message: str) -> None:
        self.warnings.append(f"{located(self._where(path))}: {message}")

    def _is_kept(self, section: str, path: KeyPath) -> bool:
        """Classify one key: keep it, or warn (unknown, or unsupported but allowed) and drop it, or fail."""
        key = str(path[-1])
        status = config_keys.support(section, key)
        if status is None:
            self._warn(path, f"unknown key {dotted(path)} (not a LiteLLM or sluicegate setting; ignored)")
            return False
        if status is Support.UNSUPPORTED:
            what = f"{dotted(path)} is a LiteLLM setting that sluicegate does not implement yet"
            if not self.allow_unsupported:
                file, line = self._where(path)
                raise ConfigError(f"{what}; remove it or start with --allow-unsupported to ignore it",
                                  file=file, line=line)
            self._warn(path, f"{what}; IGNORED (--allow-unsupported)")
            return False
        return True

    def _resolve(self, value: Any, path: KeyPath) -> Any:
        """Replace every `os.environ/NAME` string in the tree with the variable's value."""
        if isinstance(value, str) and value.startswith(_ENV_PREFIX):
            name = value[len(_ENV_PREFIX):]
            if not name:
                self._fail(path, "os.environ/ needs a variable name, e.g. os.environ/OPENAI_API_KEY")
            found = self.env.get(name)
            if found is None:
                self._fail(path, f"environment variable {name} is not set (the value is os.environ/{name}); "
                                 "set it, or add it under environment_variables")
            return found
        if isinstance(value, dict):
            return {key: self._resolve(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self._resolve(item, (*path, index)) for index, item in enumerate(value)]
        return value

    def _environment(self, raw: Any) -> dict[str, str]:
        at: KeyPath = ("environment_variables",)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self._fail(at, "expected a mapping of NAME: value")
        out: dict[str, str] = {}
        for name, value in raw.items():
            if isinstance(value, dict | list):
                self._fail((*at, name), "must be a single value (a string or a number)")
            value = self._resolve(value, (*at, name))
            if value is None:
                self._warn((*at, name), f"environment_variables.{name} has no value; it is set to an empty string")
                value = ""
            out[name] = str(value)
        return out

    def _settings(self, section: str, raw: Any, at: KeyPath) -> dict[str, Any]:
        """One mapping of settings: each key classified, its os.environ/ values resolved and its value checked."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self._fail(at, "expected a mapping of settings")
        out: dict[str, Any] = {}
        for key, value in raw.items():
            path = (*at, key)
            check = _check_for(section, key)
            if config_keys.support(section, key) is not Support.SUPPORTED:
                # A broken literal (rpm: -5) fails even in a key that is ignored; os.environ/ is not looked up.
                if check is not None and not (isinstance(value, str) and value.startswith(_ENV_PREFIX)):
                    self._checked(check, value, path)
                self._is_kept(section, path)  # warns, or fails
                continue
            value = self._resolve(value, path)
            out[key] = value if check is None else self._checked(check, value, path)
        return out

    def _checked(self, check: Callable[[Any], Any], value: Any, path: KeyPath) -> Any:
        try:
            return check(value)
        except _Invalid as exc:
            self._fail(path, str(exc))

    def _deployments(self, raw: Any) -> tuple[Deployment, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self._fail(("model_list",), "expected a list of deployments (- model_name: …)")
        taken: dict[str, int] = {}
        return tuple(self._deployment(index, entry, taken) for index, entry in enumerate(raw))

    def _deployment(self, index: int, entry: Any, taken: dict[str, int]) -> Deployment:
        at: KeyPath = ("model_list", index)
        if not isinstance(entry, dict):
            self._fail(at, "expected a mapping with model_name and litellm_params")
        name = self._resolve(entry.get("model_name"), (*at, "model_name"))
        if name is None:
            self._fail((*at, "model_name"), "required (the public name clients send, e.g. gpt-4o)")
        if not isinstance(name, str) or not name:
            self._fail((*at, "model_name"), "must be a non-empty string")
        raw_params = entry.get("litellm_params")
        if raw_params is None:
            self._fail((*at, "litellm_params"), "required (a mapping with at least model: provider/model)")
        if not isinstance(raw_params, dict):
            self._fail((*at, "litellm_params"), "must be a mapping (model: …, api_key: …)")
        if raw_params.get("model") is None:
            self._fail((*at, "litellm_params", "model"),
                       "required (the provider/model to call, e.g. openai/gpt-4o-mini)")
        params: dict[str, Any] = {}
        model_info: dict[str, Any] = {}
        for key, value in entry.items():  # in file order, like everything else
            path = (*at, key)
            if not self._is_kept("model_list[]", path):
                continue
            if key == "litellm_params":
                params = self._settings("litellm_params", value, path)
                self._check_provider(params, (*path, "model"))
            elif key == "model_info":
                model_info = self._settings("model_info", value, path)
        return Deployment(model_name=name, params=params, model_info=model_info,
                          id=self._deployment_id(name, params, model_info, index, taken),
                          source=located(self._where(at)))

    def _check_provider(self, params: dict[str, Any], path: KeyPath) -> None:
        model = params["model"]
        provider = params.get("custom_llm_provider")
        # "*" is LiteLLM's catch-all: the provider comes from each request. mock/ is the built-in test provider.
        if model == "*" or model.startswith("mock/") or provider == "mock":
            return
        try:
            resolve_model(model, custom_llm_provider=provider,
                          api_base=params.get("api_base") or params.get("base_url"))
        except BadRequestError as exc:
            reason = exc.message
            if "no adapter" not in reason:
                reason += f"; providers with an adapter: {', '.join(sorted(registry.providers()))}"
            self._fail(path, reason)

    def _deployment_id(self, name: str, params: dict[str, Any], model_info: dict[str, Any], index: int,
                       taken: dict[str, int]) -> str:
        given = model_info.get("id")
        if given is not None:
            if given in taken:
                self._fail(("model_list", index, "model_info", "id"),
                           f"duplicate id (model_list[{taken[given]}] has the same one)")
            taken[given] = index
            return str(given)
        found = _hashed_id(name, params, taken)
        taken[found] = index
        return found


def _hashed_id(name: str, params: dict[str, Any], taken: Mapping[str, int]) -> str:
    """A stable id from what a deployment calls, never from its secrets; repeats of one entry get #2, #3 …"""
    public = {key: value for key, value in params.items() if not is_secret_key(key)}
    blob = json.dumps([name, public], sort_keys=True, default=str)
    found = hashlib.sha256(blob.encode()).hexdigest()
    repeat = 1
    while found in taken:  # two deployments that differ only in their key (e.g. two accounts)
        repeat += 1
        found = hashlib.sha256(f"{blob}#{repeat}".encode()).hexdigest()
    return found


def _embedded_defaults(environ: Mapping[str, str]) -> GatewayConfig:
    """No config file: a wildcard deployment (`groq/*`) per provider whose key is set, plus mock/*.

    Providers that authenticate without an API key (Bedrock through AWS's credential chain, Vertex through
    Google's) need a config that names their region or project: the environment alone does not say which."""
    names = []
    for prefix in sorted(registry.providers()):
        row = registry.endpoint(prefix)
        if row is None or prefix == "mock":
            continue
        has_key = any(environ.get(env_name) for env_name in row.api_key_env)
        has_base = (bool(row.base_url) or not row.requires_api_base
                    or any(environ.get(env_name) for env_name in row.base_url_env))
        if has_key and has_base:  # azure has no default base: it needs AZURE_API_BASE / AZURE_OPENAI_ENDPOINT
            names.append(f"{prefix}/*")
    names.append("mock/*")
    taken: dict[str, int] = {}
    deployments = []
    for index, model in enumerate(names):
        params = {"model": model}
        deployment_id = _hashed_id(model, params, taken)
        taken[deployment_id] = index
        deployments.append(Deployment(model_name=model, params=params, model_info={}, id=deployment_id,
                                      source=_EMBEDDED))
    return GatewayConfig(
        deployments=tuple(deployments),
        master_key=environ.get("LITELLM_MASTER_KEY") or None,
        max_request_size_mb=_DEFAULT_MAX_REQUEST_SIZE_MB,
        database_url=environ.get("DATABASE_URL") or None,
        litellm_settings={}, router_settings={}, general_settings={}, environment={},
        warnings=(), path=None,
    )
