"""The gateway's one `sluicegate.Router`, built from the config: model_list, router_settings, litellm_settings.

As LiteLLM's proxy does, `router_settings` configure the router and the reliability keys of `litellm_settings`
(`num_retries`, `fallbacks`, `allowed_fails` …) fill in what `router_settings` leaves unset. The router keeps the
config's deployment ids (`model_info.id`), so `x-litellm-model-id`, the metrics and the router's state agree.
Also here: whether `--workers N` would split counters that must be shared (`per_process_limits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluicegate.gateway.config import GatewayConfig
from sluicegate.gateway.shared_redis import shared_redis
from sluicegate.router import Router
from sluicegate.router.router import CooldownHook
from sluicegate.router.strategies import USAGE_STRATEGIES

# router_settings keys passed to Router() under the same name (`default_litellm_params` too: the gateway's attempts
# merge `router.default_litellm_params` under each deployment's options, in gateway/pipeline.py).
_ROUTER_ARGS = ("routing_strategy", "routing_strategy_args", "num_retries", "retry_policy",
                "model_group_retry_policy", "retry_after", "allowed_fails", "allowed_fails_policy", "cooldown_time",
                "disable_cooldowns", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
                "default_fallbacks", "max_fallbacks", "model_group_alias", "enable_pre_call_checks",
                "enable_tag_filtering", "tag_filtering_match_any", "timeout", "stream_timeout", "redis_namespace",
                "default_litellm_params")  # the Redis connection itself: gateway/shared_redis.py
# litellm_settings keys LiteLLM's proxy hands to its router when router_settings does not set them.
_FROM_LITELLM_SETTINGS = ("num_retries", "allowed_fails", "fallbacks", "context_window_fallbacks",
                          "content_policy_fallbacks", "default_fallbacks")


def router_args(config: GatewayConfig) -> dict[str, Any]:
    """Router() keyword arguments from the config's two settings sections (router_settings wins)."""
    router = config.router_settings
    args = {key: config.litellm_settings[key] for key in _FROM_LITELLM_SETTINGS if key in config.litellm_settings}
    args.update({key: router[key] for key in _ROUTER_ARGS if key in router})
    if "enable_pre_call_check" in router and "enable_pre_call_checks" not in router:  # the docs' spelling
        args["enable_pre_call_checks"] = router["enable_pre_call_check"]
    if "max_retries" in router and "num_retries" not in router:  # LiteLLM's settings table lists both names
        args["num_retries"] = router["max_retries"]
    return args


def model_list(config: GatewayConfig) -> list[dict[str, Any]]:
    """The config's deployments as LiteLLM's model_list, each with the gateway's id as `model_info.id`."""
    return [{"model_name": d.model_name, "litellm_params": dict(d.params), "model_info": {**d.model_info, "id": d.id}}
            for d in config.deployments]


def build_router(config: GatewayConfig, on_cooldown: CooldownHook | None = None, redis: Any = None) -> Router:
    """`redis`: the gateway's one shared Redis client (gateway/shared_redis.py); None keeps state in memory."""
    return Router(model_list(config), on_cooldown=on_cooldown, redis_client=redis, **router_args(config))


def per_process_limits(config: GatewayConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """What would be counted per process, and wrongly so, with several workers and no Redis; None when nothing.

    Usage-based routing and rpm/tpm enforced as limits need every worker to see the same minute's counts: with
    N workers each would allow a deployment's whole rpm, N times over. Cooldowns, latencies and in-flight counts
    per process only make each worker learn on its own, which is safe."""
    if shared_redis(config, environ) is not None:
        return None
    args = router_args(config)
    strategy = args.get("routing_strategy", "simple-shuffle")
    if strategy in USAGE_STRATEGIES:
        return f"routing_strategy {strategy} (it counts each deployment's usage per minute)"
    limited = [d for d in config.deployments if _has_limits(d.params)]
    if args.get("enable_pre_call_checks") and limited:
        return (f"enable_pre_call_checks with rpm/tpm limits on {len(limited)} deployment(s) "
                f"(first: {limited[0].model_name!r}, {limited[0].source})")
    return None


def _has_limits(params: Mapping[str, Any]) -> bool:
    return params.get("rpm") is not None or params.get("tpm") is not None
