"""The fallback plan for each error kind (the calls themselves are in test_router.py)."""

import pytest

from sluicegate.errors import ContentPolicyViolationError, ContextWindowExceededError, InternalServerError
from sluicegate.router.fallbacks import Fallbacks, fallback_map


def test_fallback_lists_merge_and_accept_a_single_string():
    assert fallback_map([{"a": ["b"]}, {"a": "c", "d": ["e"]}], "fallbacks") == {"a": ["b", "c"], "d": ["e"]}
    with pytest.raises(ValueError, match="fallbacks must be a list"):
        fallback_map(["a"], "fallbacks")


def test_each_error_kind_uses_its_own_list_else_the_generic_ones():
    plan = Fallbacks.from_args(fallbacks=[{"small": ["other"]}], context_window_fallbacks=[{"small": ["big"]}],
                               content_policy_fallbacks=[{"small": ["lenient"]}], default_fallbacks=["last"])
    assert plan.for_error("small", ContextWindowExceededError("x")) == ["big"]
    assert plan.for_error("small", ContentPolicyViolationError("x")) == ["lenient"]
    assert plan.for_error("small", InternalServerError("x")) == ["other"]
    assert plan.for_error("unlisted", InternalServerError("x")) == ["last"]
    assert plan.for_error("last", InternalServerError("x")) == []  # never itself


def test_star_entry_is_the_generic_default_and_request_keywords_override():
    plan = Fallbacks.from_args(fallbacks=[{"*": ["any"]}])
    assert plan.for_error("x", InternalServerError("e")) == ["any"]
    assert plan.overridden({"fallbacks": [{"x": ["mine"]}]}).for_error("x", InternalServerError("e")) == ["mine"]
