"""Every key LiteLLM's proxy config documents, per section, marked SUPPORTED or UNSUPPORTED by sluicegate.

Data only; `config.py` reads it. When a feature lands, flip its keys here from U to S (and move them to the
supported list in docs/gateway/config.md). A key in no table is unknown: loading warns and ignores it.

The rule: a key is S when sluicegate honours it now, or when it only describes a deployment and changes no
behaviour (model_info facts). A key that would change behaviour if honoured is U until that behaviour exists,
so nobody believes a cache, a budget or a rate limit is in force when it is not.

Sources: LiteLLM's "All settings" page (docs/my-website/docs/proxy/config_settings.md), "Config.yaml"
(proxy/configs.md), "File Management" (proxy/config_management.md), `ConfigGeneralSettings` in
litellm/proxy/_types.py, `Router.__init__` in litellm/router.py and `GenericLiteLLMParams` / `ModelInfo` in
litellm/types/router.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType


class Support(Enum):
    SUPPORTED = "supported"
    UNSUPPORTED = "unsupported"


S = Support.SUPPORTED
U = Support.UNSUPPORTED

TOP_LEVEL: Mapping[str, Support] = MappingProxyType({
    "model_list": S,
    "litellm_settings": S,
    "router_settings": S,  # the section is read; each key inside is classified on its own
    "general_settings": S,
    "environment_variables": S,
    "include": S,  # other YAML files merged in, as LiteLLM's File Management page describes
    "callback_settings": U,  # per-callback options (otel message_logging …)
    "guardrails": U,
    "mcp_servers": U,
    "credential_list": U,  # named credentials that litellm_params.litellm_credential_name points at
    "search_tools": U,
    "assistant_settings": U,
    "files_settings": U,
    "finetune_settings": U,
    "vector_store_registry": U,
    "worker_registry": U,
})

# One deployment in model_list.
DEPLOYMENT: Mapping[str, Support] = MappingProxyType({
    "model_name": S,
    "litellm_params": S,
    "model_info": S,
})

LITELLM_SETTINGS: Mapping[str, Support] = MappingProxyType({
    "drop_params": S,
    "num_retries": S,
    "request_timeout": S,
    # The SDK's Settings has these fields, but the gateway does not copy them from the config yet.
    "api_key": U,
    "api_base": U,
    "api_version": U,
    # Logging and callbacks.
    "success_callback": U,
    "failure_callback": U,
    "callbacks": U,
    "service_callbacks": U,
    "turn_off_message_logging": U,
    "redact_messages_in_exceptions": U,
    "redact_user_api_key_info": U,
    "langfuse_default_tags": U,
    "json_logs": U,
    "set_verbose": U,  # deprecated by LiteLLM; it changes log output, which sluicegate does not wire to it
    # Request shaping.
    "modify_params": U,
    "enable_preview_features": U,
    "force_ipv4": U,
    "ssl_verify": U,
    "return_response_headers": U,
    "enable_json_schema_validation": U,
    "disable_add_transform_inline_image_block": U,
    "disable_copilot_system_to_assistant": U,
    "use_chat_completions_url_for_anthropic_messages": U,
    "disable_hf_tokenizer_download": U,
    "model_alias_map": U,
    # Reliability: the router's defaults when router_settings does not set them (gateway/routing.py).
    "fallbacks": S,
    "default_fallbacks": S,
    "content_policy_fallbacks": S,
    "context_window_fallbacks": S,
    "allowed_fails": S,
    "enable_loadbalancing_on_batch_endpoints": U,
    # Caching.
    "cache": U,
    "cache_params": S,  # its Redis connection (type: redis) is the shared Redis (gateway/shared_redis.py)
    # Budgets, keys, users, teams.
    "max_budget": U,
    "budget_duration": U,
    "max_end_user_budget": U,
    "max_internal_user_budget": U,
    "internal_user_budget_duration": U,
    "default_internal_user_params": U,
    "default_key_generate_params": U,
    "upperbound_key_generate_params": U,
    "key_generation_settings": U,
    "enable_key_alias_format_validation": U,
    "default_team_settings": U,
    "disable_end_user_cost_tracking": U,
    "disable_end_user_cost_tracking_prometheus_only": U,
    "public_model_groups": U,
    "store_audit_logs": U,
    "global_disable_no_log_param": U,
    "prometheus_initialize_budget_metrics": U,
    "require_auth_for_metrics_endpoint": U,
    # Guardrails and MCP.
    "guardrails": U,
    "mcp_aliases": U,
})

# Every Router.__init__ argument the proxy passes through: there is no router yet, so none is honoured. Even
# `num_retries` and `timeout` stay U here: they would configure the router, not the SDK defaults.
ROUTER_SETTINGS: Mapping[str, Support] = MappingProxyType({
    "routing_strategy": S,
    "routing_strategy_args": S,
    "redis_host": S,
    "redis_port": S,
    "redis_password": S,
    "redis_url": S,
    "redis_db": S,
    "redis_namespace": S,  # a prefix for the keys in Redis, so several gateways' states can share one Redis
    "cache_responses": U,
    "cache_kwargs": U,
    "caching_groups": U,
    "client_ttl": U,
    "num_retries": S,
    "max_retries": S,  # LiteLLM's settings table lists it beside num_retries: the same, when num_retries is unset
    "timeout": S,
    "stream_timeout": S,
    "retry_after": S,
    "retry_policy": S,
    "model_group_retry_policy": S,
    "allowed_fails": S,
    "allowed_fails_policy": S,
    "cooldown_time": S,
    "disable_cooldowns": S,
    "fallbacks": S,
    "default_fallbacks": S,
    "context_window_fallbacks": S,
    "content_policy_fallbacks": S,
    "max_fallbacks": S,
    "enable_pre_call_checks": S,
    "enable_pre_call_check": S,  # the spelling in the settings table of LiteLLM's docs
    "optional_pre_call_checks": U,
    "enable_tag_filtering": S,
    "tag_filtering_match_any": S,
    "model_group_alias": S,
    "default_litellm_params": S,
    "default_max_parallel_requests": U,
    "default_priority": U,
    "polling_interval": U,
    "provider_budget_config": U,
    "alerting_config": U,
    "assistants_config": U,
    "router_general_settings": U,
    "deployment_affinity_ttl_seconds": U,
    "ignore_invalid_deployments": U,
    "search_tools": U,
    "guardrail_list": U,
    "set_verbose": U,
    "debug_level": U,
})

GENERAL_SETTINGS: Mapping[str, Support] = MappingProxyType({
    "master_key": S,
    "max_request_size_mb": S,
    "spend_journal_dir": S,  # sluicegate's own: where spend records wait for the database (docs/gateway/spend.md)
    "model_poll_interval_s": S,  # sluicegate's own: how often each instance looks for /model/new changes
    "database_url": S,
    "database_connection_pool_limit": U,
    "database_connection_timeout": U,
    "database_type": U,
    "database_args": U,
    "allow_requests_on_db_unavailable": U,
    "disable_prisma_schema_update": S,  # true: check the schema at start-up, never migrate it
    "store_model_in_db": U,
    "supported_db_objects": U,
    "max_response_size_mb": U,
    "max_batch_file_size_mb": U,
    "completion_model": U,
    "embedding_model": U,
    "image_generation_model": U,
    "moderation_model": U,
    "infer_model_from_keys": U,
    # Auth.
    "custom_auth": U,
    "enable_jwt_auth": U,
    "litellm_jwtauth": U,
    "enable_oauth2_auth": U,
    "enable_oauth2_proxy_auth": U,
    "oauth2_config_mappings": U,
    "custom_sso": U,
    "allow_user_auth": U,
    "allow_client_side_credentials": U,
    "litellm_key_header_name": U,
    "user_api_key_cache_ttl": S,
    "custom_key_generate": U,
    "key_management_system": U,
    "key_management_settings": U,
    "use_azure_key_vault": U,
    "use_google_kms": U,
    "disable_master_key_return": U,
    "disable_adding_master_key_hash_to_db": U,
    "default_team_disabled": U,
    "service_account_settings": U,
    "litellm_license": U,
    # Routes and requests.
    "allowed_routes": U,
    "public_routes": U,
    "admin_only_routes": U,
    "allowed_ips": U,
    "use_x_forwarded_for": U,
    "enforce_user_param": U,
    "enforced_params": U,
    "reject_clientside_metadata_tags": U,
    "forward_openai_org_id": U,
    "forward_client_headers_to_llm_api": U,
    "pass_through_endpoints": U,
    "pass_through_request_timeout": U,
    "use_client_credentials_pass_through_routes": U,
    "disable_responses_id_security": U,
    "user_header_name": U,
    "user_header_mappings": U,
    "ui_access_mode": U,
    "enable_public_model_hub": U,
    "user_mcp_management_mode": U,
    # Limits.
    "max_parallel_requests": U,
    "global_max_parallel_requests": U,
    "disable_retry_on_max_parallel_request_limit_error": U,
    # Spend and budgets.
    "disable_spend_logs": U,
    "disable_spend_updates": U,
    "disable_reset_budget": U,
    "store_prompts_in_spend_logs": U,
    "maximum_spend_logs_retention_period": U,
    "maximum_spend_logs_retention_interval": U,
    "proxy_budget_rescheduler_min_time": U,
    "proxy_budget_rescheduler_max_time": U,
    "proxy_batch_write_at": S,  # seconds between batch writes of spend records to the database
    "proxy_batch_polling_interval": U,
    "spend_report_frequency": U,
    # Health checks and alerting.
    "background_health_checks": U,
    "health_check_interval": U,
    "health_check_details": U,
    "alerting": U,
    "alerting_threshold": U,
    "alerting_args": U,
    "alert_types": U,
    "alert_to_webhook_url": U,
    "otel": U,
})

LITELLM_PARAMS: Mapping[str, Support] = MappingProxyType({
    "model": S,
    "api_key": S,
    "api_base": S,
    "base_url": S,  # the OpenAI SDK's name for api_base; both are accepted
    "api_version": S,
    "organization": S,
    "timeout": S,
    "max_retries": S,
    "custom_llm_provider": S,
    "drop_params": S,
    "extra_headers": S,
    "input_cost_per_token": S,
    "output_cost_per_token": S,
    "azure_ad_token": S,
    # Vertex AI and Bedrock credentials (each provider row's credential_options).
    "vertex_project": S,
    "vertex_location": S,
    "vertex_credentials": S,  # a service-account key file path or its JSON; else Application Default Credentials
    "aws_access_key_id": S,
    "aws_secret_access_key": S,
    "aws_session_token": S,
    "aws_region_name": S,
    "aws_session_name": S,
    "aws_profile_name": S,
    "aws_role_name": S,
    "aws_external_id": S,
    "aws_web_identity_token": S,
    "aws_sts_endpoint": S,
    "aws_bedrock_runtime_endpoint": S,
    # Read by the router (router/groups.py): limits with usage-based routing or pre-call checks, else weights.
    "rpm": S,
    "tpm": S,
    "weight": S,
    "order": S,
    "tags": S,
    "stream_timeout": S,
    "max_parallel_requests": U,
    "cooldown_time": S,
    "max_budget": U,
    "budget_duration": U,
    "num_retries": U,
    "mock_response": U,
    "merge_reasoning_content_in_choices": U,
    "use_in_pass_through": U,
    "use_litellm_proxy": U,
    "use_chat_completions_api": U,
    "litellm_credential_name": U,
    "configurable_clientside_auth_params": U,
    "max_file_size_mb": U,
    "input_cost_per_second": U,
    "output_cost_per_second": U,
    "cache_read_input_token_cost": U,
    "cache_creation_input_token_cost": U,
    "extra_body": U,
    "metadata": U,
    # Credentials of providers without an adapter yet.
    "azure_ad_token_provider": U,
    "tenant_id": U,
    "client_id": U,
    "client_secret": U,
    "azure_username": U,
    "azure_password": U,
    "azure_scope": U,
    "region_name": U,
    "watsonx_region_name": U,
    # OpenAI request parameters as per-deployment defaults ("all params accepted by litellm.completion()"):
    # the gateway does not merge deployment defaults into requests yet.
    "temperature": U,
    "top_p": U,
    "max_tokens": U,
    "max_completion_tokens": U,
    "stop": U,
    "n": U,
    "seed": U,
    "presence_penalty": U,
    "frequency_penalty": U,
    "logit_bias": U,
    "response_format": U,
    "tools": U,
    "tool_choice": U,
    "parallel_tool_calls": U,
    "reasoning_effort": U,
    "user": U,
    "stream": U,
})

MODEL_INFO: Mapping[str, Support] = MappingProxyType({
    "id": S,  # the deployment id (x-litellm-model-id)
    "base_model": S,
    "mode": S,
    "input_cost_per_token": S,
    "output_cost_per_token": S,
    "max_tokens": S,
    "max_input_tokens": S,
    "max_output_tokens": S,
    "metadata": S,  # free-form notes for people; nothing reads it
    "description": S,
    # These change who may call a deployment or how it is charged and checked.
    "access_groups": S,  # names a virtual key's `models` may list to open every model in the group
    "team_id": U,
    "team_public_model_name": U,
    "tier": U,
    "blocked": U,
    "disable_background_health_check": U,
    "health_check_model": U,
    "input_cost_per_second": U,
    "output_cost_per_second": U,
    "cache_read_input_token_cost": U,
    "cache_creation_input_token_cost": U,
})

# Key families matched by prefix, after the exact tables.
PREFIXES: Mapping[str, tuple[tuple[str, Support], ...]] = MappingProxyType({
    "model_info": (("supports_", S),),  # supports_vision, supports_function_calling …: capability facts
})

# Section name (as it appears in a key path) → its table. "" is the top level of the file.
SECTIONS: Mapping[str, Mapping[str, Support]] = MappingProxyType({
    "": TOP_LEVEL,
    "model_list[]": DEPLOYMENT,
    "litellm_settings": LITELLM_SETTINGS,
    "router_settings": ROUTER_SETTINGS,
    "general_settings": GENERAL_SETTINGS,
    "litellm_params": LITELLM_PARAMS,
    "model_info": MODEL_INFO,
})


def support(section: str, key: str) -> Support | None:
    """How sluicegate treats `key` in `section`; None when LiteLLM does not document it."""
    found = SECTIONS[section].get(key)
    if found is None:
        for prefix, status in PREFIXES.get(section, ()):
            if key.startswith(prefix):
                return status
    return found
