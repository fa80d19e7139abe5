"""The fallback plan for each error kind (the calls themselves are in test_router.py)."""

import pytest

from sluicegate.errors import ContentPolicyViolationError, ContextWindowExceededError, InternalServerError
from sluicegate.router.fallbacks import Fallbacks, fallback_map


def test_fallback_lists_merge_and_accept_a_single_string():
    assert fallback_map([{"a": ["b"]}, {"a": "c", "d": ["e"]}], "fallbacks") == {"a": ["b", "c"], "d": ["e"]}


def test_bare_group_names_fall_back_for_any_group():
    assert fallback_map(["b", {"a": ["c"]}, "d"], "fallbacks") == {"*": ["b", "d"], "a": ["c"]}
    plan = Fallbacks.from_args(fallbacks=["spare", "last"])
    assert plan.for_error("anything", InternalServerError("e")) == ["spare", "last"]
    assert plan.for_error("spare", InternalServerError("e")) == ["last"]  # never itself


@pytest.mark.parametrize("value", ["gpt-4o", [3], [{"a": 3}], [["a"]]])
def test_malformed_fallbacks_are_refused(value):
    with pytest.raises(ValueError, match="fallbacks"):
        fallback_map(value, "fallbacks")


def test_each_error_kind_uses_its_own_list_else_the_generic_ones():
    plan = Fallbacks.from_args(fallbacks=[{"small": ["other"]}], context_window_fallbacks=[{"small": ["big"]}],
                               content_policy_fallbacks=[{"small": ["lenient"]}], default_fallbacks=["last"])
    assert plan.for_error("small", ContextWindowExceededError("x")) == ["big"]
    assert plan.for_error("small", ContentPolicyViolationError("x")) == ["lenient"]
    assert plan.for_error("small", InternalServerError("x")) == ["other"]
    assert plan.for_error("unlisted", InternalServerError("x")) == ["last"]
    assert plan.for_error("last", InternalServerError("x")) == []  # never itself


def test_a_groups_empty_entry_means_no_fallback_even_with_a_star_entry():
    plan = Fallbacks.from_args(fallbacks=[{"quiet": []}, {"*": ["any"]}])
    assert plan.for_error("quiet", InternalServerError("e")) == []
    assert plan.for_error("loud", InternalServerError("e")) == ["any"]


def test_star_entry_is_the_generic_default_and_request_keywords_override():
    plan = Fallbacks.from_args(fallbacks=[{"*": ["any"]}])
    assert plan.for_error("x", InternalServerError("e")) == ["any"]
    assert plan.overridden({"fallbacks": [{"x": ["mine"]}]}).for_error("x", InternalServerError("e")) == ["mine"]


def test_a_requests_context_window_list_of_names_applies_to_its_group():
    plan = Fallbacks.from_args(fallbacks=[{"small": ["other"]}])
    mine = plan.overridden({"context_window_fallbacks": ["big"]})
    assert mine.for_error("small", ContextWindowExceededError("x")) == ["big"]
    assert mine.for_error("small", InternalServerError("x")) == ["other"]  # the router's generic list stays


def test_a_requests_fallbacks_replace_the_default_fallbacks_too():
    plan = Fallbacks.from_args(default_fallbacks=["last"])
    assert plan.overridden({}) is plan
    assert plan.overridden({"fallbacks": []}).for_error("a", InternalServerError("x")) == []
    assert plan.overridden({"fallbacks": ["mine"]}).for_error("a", InternalServerError("x")) == ["mine"]
