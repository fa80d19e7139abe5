"""load_config: LiteLLM's config.yaml → GatewayConfig, and every error as `file:line: key.path: reason`."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from sluicegate.catalog import lookup
from sluicegate.errors import ConfigError
from sluicegate.gateway import config_keys
from sluicegate.gateway.config import (
    Deployment,
    GatewayConfig,
    config_path_from_env,
    is_secret_key,
    load_config,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "configs"
DOCS = Path(__file__).parent.parent.parent / "docs" / "gateway" / "config.md"
CANARY = "sk-canary-5b1e7d90"  # must never appear in a message or a repr
PROXY_ENV = {"AZURE_API_KEY_EU": "az-eu", "AZURE_API_KEY_CA": "az-ca", "OPENAI_API_KEY": "sk-openai",
             "PROXY_MASTER_KEY": "sk-master"}


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def load_error(path: str, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def test_litellm_proxy_config_loads_into_the_expected_structure() -> None:
    path = str(FIXTURES / "litellm_proxy.yaml")
    config = load_config(path, environ=PROXY_ENV)

    def shape(d: Deployment) -> tuple[object, ...]:
        return d.model_name, d.params, d.model_info, d.source

    assert [shape(d) for d in config.deployments] == [
        ("gpt-4o", {"model": "azure/gpt-4o-eu", "api_base": "https://my-endpoint-europe.openai.azure.com/",
                    "api_key": "az-eu", "api_version": "2024-10-21", "timeout": 30, "max_retries": 2},
         {"base_model": "azure/gpt-4o", "mode": "chat", "supports_vision": True}, f"{path}:4"),
        ("gpt-4o", {"model": "azure/gpt-4o-ca", "api_base": "https://my-endpoint-canada.openai.azure.com/",
                    "api_key": "az-ca", "api_version": "2024-10-21"}, {}, f"{path}:16"),
        ("gpt-4o-mini", {"model": "openai/gpt-4o-mini", "api_key": "sk-openai", "organization": "org-acme",
                         "drop_params": True},
         {"id": "openai-mini", "input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07,
          "max_input_tokens": 128000}, f"{path}:22"),
        ("vllm-opt", {"model": "openai/facebook/opt-125m", "api_base": "http://0.0.0.0:8000/v1",
                      "extra_headers": {"X-Team": "research"}}, {}, f"{path}:33"),
        ("llama-3.3-70b", {"model": "groq/llama-3.3-70b-versatile", "api_key": "gsk-from-the-file"}, {},
         f"{path}:39"),
        ("*", {"model": "*"}, {}, f"{path}:43"),
    ]
    assert config.deployments[2].id == "openai-mini"
    assert config.master_key == "sk-master"
    assert config.max_request_size_mb == 10.0
    assert config.database_url is None
    assert config.litellm_settings == {"drop_params": True, "num_retries": 3, "request_timeout": 600}
    assert config.router_settings == {}
    assert config.general_settings == {"master_key": "sk-master", "max_request_size_mb": 10}
    assert config.environment == {"GROQ_API_KEY": "gsk-from-the-file",
                                  "AZURE_API_BASE_CA": "https://my-endpoint-canada.openai.azure.com/"}
    assert config.warnings == ()
    assert config.path == path


def test_deployment_ids_are_stable_across_loads_and_distinct_per_deployment() -> None:
    path = FIXTURES / "litellm_proxy.yaml"
    first = [d.id for d in load_config(path, environ=PROXY_ENV).deployments]
    again = [d.id for d in load_config(path, environ=PROXY_ENV).deployments]
    assert first == again
    assert len(set(first)) == len(first)
    assert all(re.fullmatch(r"[0-9a-f]{64}", i) for i in first if i != "openai-mini")


def test_deployment_ids_do_not_depend_on_the_key_but_stay_distinct(tmp_path: Path) -> None:
    text = """
        model_list:
          - model_name: gpt-4o-mini     # two accounts behind one name: only the key differs
            litellm_params: {model: openai/gpt-4o-mini, api_key: sk-account-one}
          - model_name: gpt-4o-mini
            litellm_params: {model: openai/gpt-4o-mini, api_key: sk-account-two}
        """
    one = load_config(write(tmp_path, text), environ={}).deployments
    rotated = load_config(write(tmp_path, text.replace("sk-account-one", "sk-rotated"), "b.yaml"),
                          environ={}).deployments
    assert one[0].id != one[1].id
    assert [d.id for d in one] == [d.id for d in rotated]


def test_a_repeated_model_info_id_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: a
            litellm_params: {model: openai/gpt-4o-mini}
            model_info: {id: shared}
          - model_name: b
            litellm_params: {model: openai/gpt-4o}
            model_info:
              id: shared
        """)
    assert load_error(path, environ={}) == (
        f"{path}:8: model_list[1].model_info.id: duplicate id (model_list[0] has the same one)")


@pytest.mark.parametrize(("text", "expected"), [
    ("model_list:\n  model_name: gpt-4o\n",
     "1: model_list: expected a list of deployments (- model_name: …)"),
    ("model_list:\n  - gpt-4o\n",
     "2: model_list[0]: expected a mapping with model_name and litellm_params"),
    ("model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o}\n"
     "  - litellm_params:\n      model: openai/gpt-4o\n",
     "4: model_list[1].model_name: required (the public name clients send, e.g. gpt-4o)"),
    ("model_list:\n  - model_name: a\n",
     "2: model_list[0].litellm_params: required (a mapping with at least model: provider/model)"),
    ("model_list:\n  - model_name: a\n    litellm_params: openai/gpt-4o\n",
     "3: model_list[0].litellm_params: must be a mapping (model: …, api_key: …)"),
    ("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n"
     "  - model_name: b\n    litellm_params:\n      api_key: sk-x\n",
     "6: model_list[1].litellm_params.model: required (the provider/model to call, e.g. openai/gpt-4o-mini)"),
    ("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n      rpm: -5\n",
     "5: model_list[0].litellm_params.rpm: must be a whole number, 0 or more"),
    ("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n      tpm: lots\n",
     "5: model_list[0].litellm_params.tpm: must be a whole number, 0 or more (got text)"),
    ("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n      timeout: soon\n",
     "5: model_list[0].litellm_params.timeout: must be a number of seconds greater than 0 (got text)"),
    ("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n      timeout: 0\n",
     "5: model_list[0].litellm_params.timeout: must be a number of seconds greater than 0"),
    ("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n      max_retries: -1\n",
     "5: model_list[0].litellm_params.max_retries: must be a whole number, 0 or more"),
    ("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n      drop_params: sure\n",
     "5: model_list[0].litellm_params.drop_params: must be true or false (got text)"),
    ("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n"
     "      extra_headers: [X-Team]\n",
     "5: model_list[0].litellm_params.extra_headers: must be a mapping of header names to strings"),
    ("model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o}\n    model_info:\n"
     "      max_tokens: 0\n",
     "5: model_list[0].model_info.max_tokens: must be a whole number, 1 or more"),
    ("litellm_settings:\n  num_retries: -1\n",
     "2: litellm_settings.num_retries: must be a whole number, 0 or more"),
    ("litellm_settings: [drop_params]\n", "1: litellm_settings: expected a mapping of settings"),
    ("general_settings:\n  max_request_size_mb: 0\n",
     "2: general_settings.max_request_size_mb: must be a number of megabytes greater than 0"),
    ("general_settings:\n  master_key: 1234\n",
     "2: general_settings.master_key: must be a non-empty string (got int)"),
    ("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n      model: openai/x\n",
     "5: model_list[0].litellm_params.model: duplicate key (YAML would keep only the last)"),
    ("- model_name: a\n", "1: expected a mapping at the top (model_list: …, general_settings: …)"),
    ("environment_variables: [A]\n", "1: environment_variables: expected a mapping of NAME: value"),
])
def test_each_error_names_the_file_line_key_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path, environ={}) == f"{path}:{expected}"


def test_yaml_syntax_errors_give_the_line_of_the_problem(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: a
            litellm_params:
              model: "openai/gpt-4o
          - model_name: b
        """)
    assert load_error(path, environ={}).startswith(f"{path}:6: invalid YAML: ")


def test_an_unknown_provider_fails_at_its_line_and_lists_the_providers(tmp_path: Path) -> None:
    path = write(tmp_path, "model_list:\n  - model_name: a\n    litellm_params:\n      model: acme/rocket-1\n")
    message = load_error(path, environ={})
    assert message.startswith(f"{path}:4: model_list[0].litellm_params.model: cannot tell which provider "
                              "serves 'acme/rocket-1'")
    assert re.search(r"providers with an adapter: .*\bazure\b.*\bgroq\b.*\bopenai\b", message)


def test_a_provider_without_an_adapter_fails_at_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lookup._catalog()
    monkeypatch.setattr(lookup, "_current", lookup._current)  # the registration below must not leak
    lookup.register_model({"acme/rocket-1": {"litellm_provider": "acme", "mode": "chat"}})
    path = write(tmp_path, "model_list:\n  - model_name: a\n    litellm_params:\n      model: acme/rocket-1\n")
    message = load_error(path, environ={})
    assert message.startswith(f"{path}:4: model_list[0].litellm_params.model: provider 'acme'")
    assert "no adapter" in message


def test_wildcard_and_mock_deployments_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: "*"
            litellm_params: {model: "*"}
          - model_name: openai/*
            litellm_params: {model: openai/*}
          - model_name: demo
            litellm_params: {model: mock/anything}
        """)
    config = load_config(path, environ={})
    assert [(d.model_name, d.params["model"]) for d in config.deployments] == [
        ("*", "*"), ("openai/*", "openai/*"), ("demo", "mock/anything")]


def test_a_missing_environment_variable_names_it_the_key_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: a
            litellm_params: {model: openai/gpt-4o}
          - model_name: b
            litellm_params: {model: openai/gpt-4o-mini}
          - model_name: c
            litellm_params:
              model: azure/my-deployment
              api_base: https://x.openai.azure.com/
              api_key: os.environ/AZURE_API_KEY
        """)
    assert load_error(path, environ={}) == (
        f"{path}:10: model_list[2].litellm_params.api_key: environment variable AZURE_API_KEY is not set "
        "(the value is os.environ/AZURE_API_KEY); set it, or add it under environment_variables")


def test_environment_variables_are_applied_before_lookups_without_touching_os_environ(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: a
            litellm_params:
              model: openai/gpt-4o
              api_key: os.environ/FILE_ONLY_KEY
              timeout: os.environ/FILE_TIMEOUT
        environment_variables:
          FILE_ONLY_KEY: os.environ/PROCESS_KEY
          FILE_TIMEOUT: 45
          SHADOWED: from-the-file
        """)
    config = load_config(path, environ={"PROCESS_KEY": "sk-process", "SHADOWED": "from-the-process"})
    assert config.deployments[0].params == {"model": "openai/gpt-4o", "api_key": "sk-process", "timeout": 45}
    assert config.environment == {"FILE_ONLY_KEY": "sk-process", "FILE_TIMEOUT": "45", "SHADOWED": "from-the-file"}
    assert "FILE_ONLY_KEY" not in os.environ


def test_unsupported_settings_fail_with_a_way_out(tmp_path: Path) -> None:
    path = str(FIXTURES / "litellm_unsupported.yaml")
    assert load_error(path, environ={"OPENAI_API_KEY": "sk-x"}) == (
        f"{path}:7: model_list[0].litellm_params.max_parallel_requests is a LiteLLM setting that sluicegate does not "
        "implement yet; remove it or start with --allow-unsupported to ignore it")
    cache_only = write(tmp_path, "litellm_settings:\n  drop_params: true\n  cache: true\n")
    assert load_error(cache_only, environ={}) == (
        f"{cache_only}:3: litellm_settings.cache is a LiteLLM setting that sluicegate does not implement yet; "
        "remove it or start with --allow-unsupported to ignore it")


def test_allow_unsupported_turns_each_into_an_ignored_warning() -> None:
    path = str(FIXTURES / "litellm_unsupported.yaml")
    config = load_config(path, environ={"OPENAI_API_KEY": "sk-x"}, allow_unsupported=True)
    ignored = "is a LiteLLM setting that sluicegate does not implement yet; IGNORED (--allow-unsupported)"
    assert config.warnings == (
        f"{path}:7: model_list[0].litellm_params.max_parallel_requests {ignored}",
        f"{path}:8: model_list[0].litellm_params.max_budget {ignored}",
        f"{path}:12: litellm_settings.cache {ignored}",
        f"{path}:13: litellm_settings.max_budget {ignored}",
        f"{path}:14: litellm_settings.budget_duration {ignored}",
        f"{path}:15: litellm_settings.max_end_user_budget {ignored}",
        f"{path}:16: litellm_settings.success_callback {ignored}",
        f"{path}:19: router_settings.cache_responses {ignored}",
        f"{path}:20: router_settings.default_priority {ignored}",
        f"{path}:24: general_settings.alerting {ignored}",
        f"{path}:25: unknown key general_settings.foo (not a LiteLLM or sluicegate setting; ignored)",
    )
    # What is ignored is gone from the result.
    assert config.deployments[0].params == {"model": "openai/gpt-4o-mini", "api_key": "sk-x"}
    assert config.litellm_settings == {"drop_params": True}
    assert config.router_settings == {}
    assert config.general_settings == {"master_key": "sk-1234"}


def test_unknown_keys_warn_with_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: a
            litellm_params:
              model: openai/gpt-4o
              top_k: 5
            notes: staging
        general_settings:
          master_key: sk-1
          colour: blue
        """)
    config = load_config(path, environ={})
    assert config.warnings == (
        f"{path}:5: unknown key model_list[0].litellm_params.top_k (not a LiteLLM or sluicegate setting; ignored)",
        f"{path}:6: unknown key model_list[0].notes (not a LiteLLM or sluicegate setting; ignored)",
        f"{path}:9: unknown key general_settings.colour (not a LiteLLM or sluicegate setting; ignored)",
    )
    assert config.deployments[0].params == {"model": "openai/gpt-4o"}
    assert config.general_settings == {"master_key": "sk-1"}


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model_list:
          - model_name: a
            litellm_params:
              model: openai/gpt-4o
              api_key: {CANARY}
              extra_headers: {{Authorization: Bearer {CANARY}}}
          - model_name: b
            litellm_params:
              model: azure/d
              api_base: https://x.openai.azure.com/
              azure_ad_token: os.environ/AD_TOKEN
        general_settings:
          master_key: {CANARY}
        environment_variables:
          SOME_VARIABLE: {CANARY}
        """)
    config = load_config(path, environ={"AD_TOKEN": CANARY, "DATABASE_URL": f"postgresql://u:{CANARY}@db/x"})
    assert config.master_key == CANARY
    assert config.deployments[1].params["azure_ad_token"] == CANARY
    for shown in (repr(config), repr(config.deployments[0]), repr(config.deployments[1]), str(config)):
        assert CANARY not in shown
    assert "api_key': '***'" in repr(config.deployments[0])


def test_resolved_values_never_appear_in_messages(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: a
            litellm_params:
              model: openai/gpt-4o
              timeout: os.environ/LEAKY
        """)
    message = load_error(path, environ={"LEAKY": CANARY})
    assert message == (f"{path}:5: model_list[0].litellm_params.timeout: must be a number of seconds greater "
                       "than 0 (got text)")


@pytest.mark.parametrize(("name", "secret"), [
    ("api_key", True), ("master_key", True), ("aws_secret_access_key", True), ("azure_ad_token", True),
    ("redis_password", True), ("database_url", True), ("vertex_credentials", True), ("GITHUB_TOKEN", True),
    ("max_tokens", False), ("input_cost_per_token", False), ("tpm", False), ("model", False),
])
def test_is_secret_key(name: str, secret: bool) -> None:
    assert is_secret_key(name) is secret


def test_master_key_falls_back_to_litellm_master_key(tmp_path: Path) -> None:
    bare = write(tmp_path, "model_list: []\n")
    assert load_config(bare, environ={"LITELLM_MASTER_KEY": "sk-env"}).master_key == "sk-env"
    assert load_config(bare, environ={}).master_key is None
    own = write(tmp_path, "general_settings:\n  master_key: sk-file\n", "own.yaml")
    assert load_config(own, environ={"LITELLM_MASTER_KEY": "sk-env"}).master_key == "sk-file"


def test_defaults_for_request_size_and_database_url(tmp_path: Path) -> None:
    path = write(tmp_path, "model_list:\n")
    config = load_config(path, environ={"DATABASE_URL": "postgresql://db/x"})
    assert (config.deployments, config.max_request_size_mb, config.database_url) == ((), 32.0, "postgresql://db/x")
    in_file = write(tmp_path, "general_settings:\n  database_url: postgresql://db/y\n", "db.yaml")
    assert load_config(in_file, environ={"DATABASE_URL": "postgresql://db/x"}).database_url == "postgresql://db/y"


def test_embedded_defaults_without_keys_offer_only_mock() -> None:
    config = load_config(None, environ={})
    assert [(d.model_name, d.params, d.source) for d in config.deployments] == [
        ("mock/*", {"model": "mock/*"}, "<embedded defaults>")]
    assert (config.path, config.master_key, config.warnings, config.max_request_size_mb) == (None, None, (), 32.0)


def test_embedded_defaults_add_a_wildcard_per_provider_key() -> None:
    environ = {"OPENAI_API_KEY": "sk-o", "GROQ_API_KEY": "gsk", "AZURE_API_KEY": "az",
               "LITELLM_MASTER_KEY": "sk-master"}
    config = load_config(None, environ=environ)
    assert [d.model_name for d in config.deployments] == ["groq/*", "openai/*", "text-completion-openai/*",
                                                          "mock/*"]
    assert all(d.params == {"model": d.model_name} for d in config.deployments)
    assert len({d.id for d in config.deployments}) == 4
    assert config.master_key == "sk-master"
    with_base = load_config(None, environ={**environ, "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com/"})
    assert "azure/*" in [d.model_name for d in with_base.deployments]


def test_embedded_defaults_include_native_providers_with_keys() -> None:
    environ = {"ANTHROPIC_API_KEY": "sk-ant", "GEMINI_API_KEY": "gm", "COHERE_API_KEY": "co",
               "AWS_BEARER_TOKEN_BEDROCK": "br", "VERTEXAI_PROJECT": "p"}
    names = [d.model_name for d in load_config(None, environ=environ).deployments]
    # cohere_chat/ is cohere/ under LiteLLM's other prefix; Vertex needs a config (credentials, project, location)
    assert names == ["anthropic/*", "bedrock/*", "cohere/*", "cohere_chat/*", "gemini/*", "mock/*"]


def test_include_extends_model_list_and_replaces_other_sections() -> None:
    main, models = str(FIXTURES / "include_main.yaml"), str(FIXTURES / "include_models.yaml")
    config = load_config(main, environ={})
    assert [(d.model_name, d.source) for d in config.deployments] == [
        ("gpt-4o-mini", f"{main}:5"), ("llama-3.3-70b", f"{models}:3")]
    assert config.litellm_settings == {"drop_params": True}
    assert config.warnings == (f"{models}:7: litellm_settings from {models} replaces the one in {main} "
                               "(an include only extends lists, as in LiteLLM)",)


def test_a_missing_include_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "include:\n  - models.yaml\n  - absent.yaml\n")
    write(tmp_path, "model_list: []\n", "models.yaml")
    assert load_error(path, environ={}) == f"{path}:3: include[1]: file not found: {tmp_path / 'absent.yaml'}"


def test_yaml_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: eu
            litellm_params: &azure
              model: azure/eu
              api_base: https://x.openai.azure.com/
              api_version: "2024-10-21"
          - model_name: ca
            litellm_params:
              <<: *azure
              model: azure/ca
        """)
    config = load_config(path, environ={})
    assert config.deployments[1].params == {"model": "azure/ca", "api_base": "https://x.openai.azure.com/",
                                            "api_version": "2024-10-21"}


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = write(tmp_path, "")
    assert load_error(empty, environ={}) == (
        f"{empty}: the file is empty; expected model_list, litellm_settings, general_settings …")
    absent = str(tmp_path / "nope.yaml")
    assert load_error(absent, environ={}) == f"{absent}: config file not found"


def test_config_path_from_env() -> None:
    assert config_path_from_env({"SLUICEGATE_CONFIG": "a.yaml", "CONFIG_FILE_PATH": "b.yaml"}) == "a.yaml"
    assert config_path_from_env({"CONFIG_FILE_PATH": "b.yaml"}) == "b.yaml"
    assert config_path_from_env({"SLUICEGATE_CONFIG": ""}) is None


def test_config_objects_are_frozen() -> None:
    config = load_config(None, environ={})
    assert isinstance(config, GatewayConfig)
    with pytest.raises(AttributeError):
        config.master_key = "x"  # type: ignore[misc]


def test_the_docs_list_every_key_of_every_table() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    missing = [f"{section or 'top level'}.{key}" for section, table in config_keys.SECTIONS.items()
               for key in table if f"`{key}`" not in docs]
    assert missing == []
    assert "`supports_*`" in docs


def test_supports_prefix_keys_are_informational() -> None:
    assert config_keys.support("model_info", "supports_function_calling") is config_keys.Support.SUPPORTED
    assert config_keys.support("litellm_params", "supports_vision") is None


def test_ignored_keys_do_not_look_up_their_variables(tmp_path: Path) -> None:
    path = write(tmp_path, """
        general_settings:
          master_key: sk-1
          custom_auth: os.environ/CUSTOM_AUTH
        litellm_settings:
          callback_settings: {otel: {token: os.environ/OTEL_TOKEN}}
        """)
    assert load_error(path, environ={}).startswith(
        f"{path}:3: general_settings.custom_auth is a LiteLLM setting that sluicegate does not implement yet")
    config = load_config(path, environ={}, allow_unsupported=True)
    assert (config.general_settings, config.database_url, len(config.warnings)) == ({"master_key": "sk-1"}, None, 2)


def test_cache_params_name_the_shared_redis_and_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, """
        litellm_settings:
          cache_params:
            type: redis
            host: os.environ/REDIS_HOST
            port: "6380"
            password: os.environ/REDIS_PASSWORD
            ttl: 600
        """)
    config = load_config(path, environ={"REDIS_HOST": "cache.internal", "REDIS_PASSWORD": "hunter2"})
    assert config.litellm_settings["cache_params"] == {"type": "redis", "host": "cache.internal", "port": 6380,
                                                       "password": "hunter2", "ttl": 600}
    bad_port = write(tmp_path, "litellm_settings:\n  cache_params:\n    type: redis\n    port: six\n")
    assert load_error(bad_port, environ={}) == (
        f"{bad_port}:2: litellm_settings.cache_params: port must be a whole number, 1 or more (got text)")


def test_an_empty_api_key_loads_as_in_litellm(tmp_path: Path) -> None:
    path = write(tmp_path, 'model_list:\n  - model_name: local\n    litellm_params:\n'
                           '      model: openai/qwen\n      api_base: http://127.0.0.1:8000/v1\n      api_key: ""\n')
    assert load_config(path, environ={}).deployments[0].params["api_key"] == ""


def test_access_groups_must_be_a_list_of_names(tmp_path: Path) -> None:
    path = write(tmp_path, "model_list:\n  - model_name: a\n    litellm_params: {model: openai/a}\n"
                           "    model_info: {access_groups: beta}\n")
    assert load_error(path, environ={}) == (
        f"{path}:4: model_list[0].model_info.access_groups: must be a list of names (got text)")
