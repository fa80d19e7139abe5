import pytest

from sluicegate.errors import BadRequestError, UnsupportedParamsError
from sluicegate.params import ChatParams, EmbeddingParams, build_params, enforce_supported, set_params


def test_known_names_are_typed_and_the_rest_are_provider_params():
    params = build_params(ChatParams, {"temperature": 0.2, "top_k": 5, "seed": None})
    assert params.temperature == 0.2
    assert params.seed is None
    assert params.provider_params == {"top_k": 5}
    assert set_params(params) == {"temperature": 0.2}


def test_unsupported_params_raise_by_default_naming_the_fix():
    params = build_params(ChatParams, {"logit_bias": {"1": 1}, "temperature": 1})
    with pytest.raises(UnsupportedParamsError, match="drop_params=True") as caught:
        enforce_supported(params, frozenset({"temperature"}), drop_params=False, provider="groq", model="m")
    assert caught.value.param == "logit_bias"
    assert caught.value.status_code == 400


def test_drop_params_clears_only_the_unsupported_ones():
    params = build_params(ChatParams, {"logit_bias": {"1": 1}, "temperature": 1})
    dropped = enforce_supported(params, frozenset({"temperature"}), drop_params=True, provider="groq", model="m")
    assert dropped == ["logit_bias"]
    assert set_params(params) == {"temperature": 1}


def test_embedding_input_is_never_reported_unsupported():
    params = build_params(EmbeddingParams, {"input": "x", "dimensions": 3})
    assert enforce_supported(params, frozenset({"dimensions"}), drop_params=False, provider="p", model="m") == []


@pytest.mark.parametrize(("name", "value"), [("n", "many"), ("temperature", "hot"), ("temperature", True),
                                             ("tools", {"not": "a list"}), ("stop", 3), ("logprobs", 1)])
def test_a_mistyped_known_field_is_a_bad_request(name, value):
    with pytest.raises(BadRequestError, match=name) as caught:
        build_params(ChatParams, {name: value})
    assert caught.value.param == name


def test_well_typed_values_pass():
    params = build_params(ChatParams, {"temperature": 1, "top_p": 0.5, "stop": ["a"], "tool_choice": "auto",
                                       "response_format": {"type": "json_object"}, "logprobs": False})
    assert params.temperature == 1
    embed = build_params(EmbeddingParams, {"input": [[1, 2]], "dimensions": 8})
    assert embed.input == [[1, 2]]
