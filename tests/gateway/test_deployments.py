"""Model groups and the per-deployment resolution cache."""

from sluicegate.gateway.config import Deployment
from sluicegate.gateway.deployments import ModelGroups
from sluicegate.gateway.pipeline import Resolutions
from sluicegate.settings import Settings


def _deployment(name: str, model: str, **params: object) -> Deployment:
    return Deployment(model_name=name, params={"model": model, "api_key": "sk-x", **params}, model_info={},
                      id=f"id-{name}-{model}", source="test")


def test_exact_groups_keep_config_order_and_wildcards_fill_in_the_name():
    groups = ModelGroups((_deployment("fast", "openai/gpt-4o-mini"), _deployment("fast", "groq/llama"),
                          _deployment("openai/*", "openai/*")))
    assert [t.model for t in groups.targets("fast")] == ["openai/gpt-4o-mini", "groq/llama"]
    assert [t.model for t in groups.targets("openai/gpt-4.1")] == ["openai/gpt-4.1"]
    assert groups.targets("anthropic/claude") == []
    assert groups.names() == ["fast", "openai/*"]


def test_resolutions_are_cached_for_exact_groups_only():
    groups = ModelGroups((_deployment("fast", "openai/gpt-4o-mini", api_base="http://127.0.0.1:9/v1"),
                          _deployment("openai/*", "openai/*", api_base="http://127.0.0.1:9/v1")))
    cache = Resolutions()
    first = cache.get(groups.targets("fast")[0], Settings())
    assert cache.get(groups.targets("fast")[0], Settings()) is first
    assert first[1].api_base == "http://127.0.0.1:9/v1"
    for i in range(50):  # client-chosen names under a wildcard never grow the cache
        cache.get(groups.targets(f"openai/model-{i}")[0], Settings())
    assert len(cache) == 1
