"""model_list → groups: ids, aliases, wildcards, deployment ids, litellm_params the router keeps to itself."""

import pytest

from sluicegate.errors import BadRequestError
from sluicegate.router.groups import ModelGroups, deployment_from_entry


def entry(group, model, **params):
    return {"model_name": group, "litellm_params": {"model": model, **params}}


def test_ids_are_stable_or_taken_from_model_info():
    a = deployment_from_entry(entry("g", "openai/gpt-4o", api_key="k"))
    assert a.id == deployment_from_entry(entry("g", "openai/gpt-4o", api_key="k")).id
    assert a.id != deployment_from_entry(entry("g", "openai/gpt-4o", api_key="other")).id
    given = deployment_from_entry({**entry("g", "openai/gpt-4o"), "model_info": {"id": "eu-1", "mode": "chat"}})
    assert given.id == "eu-1"
    assert given.as_dict()["model_info"] == {"id": "eu-1", "mode": "chat"}


def test_router_params_are_not_sent_and_env_references_are_read(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-from-env")
    d = deployment_from_entry(entry("g", "openai/gpt-4o", api_key="os.environ/MY_KEY", rpm=10, tpm=100,
                                    weight=2, order=1, tags=["eu"], max_retries=1, timeout=3))
    assert d.call_params == {"model": "openai/gpt-4o", "api_key": "sk-from-env", "timeout": 3}
    assert (d.rpm, d.tpm, d.weight, d.order, d.tags, d.max_retries) == (10, 100, 2.0, 1, ("eu",), 1)


def test_resolve_groups_aliases_and_deployment_ids():
    groups = ModelGroups([deployment_from_entry(entry("gpt-4o", "openai/gpt-4o")),
                          deployment_from_entry({**entry("gpt-4o", "azure/gpt-4o"), "model_info": {"id": "az"}})],
                         aliases={"gpt4": "gpt-4o", "best": {"model": "gpt-4o", "hidden": True}})
    assert [d.model for d in groups.resolve("gpt-4o")[1]] == ["openai/gpt-4o", "azure/gpt-4o"]
    assert groups.resolve("gpt4")[0] == groups.resolve("best")[0] == "gpt-4o"
    assert [d.id for d in groups.resolve("az")[1]] == ["az"]
    with pytest.raises(BadRequestError, match="Invalid model name passed in model=nope"):
        groups.resolve("nope")


def test_wildcards_most_specific_first_each_model_its_own_id():
    groups = ModelGroups([deployment_from_entry(entry("anthropic/*", "anthropic/*", api_key="a")),
                          deployment_from_entry(entry("*", "*")),
                          deployment_from_entry(entry("openai/ft-*", "openai/ft-*", api_key="ft"))])
    group, [d] = groups.resolve("anthropic/claude-sonnet-4-5")
    assert (group, d.model) == ("anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5")
    assert d.litellm_params["api_key"] == "a"
    assert groups.resolve("openai/ft-mine")[1][0].litellm_params["api_key"] == "ft"
    assert groups.resolve("gemini/gemini-2.0-flash")[1][0].model == "gemini/gemini-2.0-flash"
    assert groups.resolve("anthropic/x")[1][0].id != groups.resolve("anthropic/y")[1][0].id
