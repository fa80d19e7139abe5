"""Which groups to try when a whole group failed, in LiteLLM's four forms.

    fallbacks=[{"gpt-4o": ["claude-sonnet", "gpt-4o-mini"]}]      any failure of gpt-4o (after its retries)
    context_window_fallbacks=[{"gpt-4o-mini": ["gpt-4o"]}]          on ContextWindowExceededError
    content_policy_fallbacks=[{"gpt-4o": ["claude-sonnet"]}]        on ContentPolicyViolationError
    default_fallbacks=["gpt-4o-mini"]                               any group without its own entry

A plain group name in one of the lists (`fallbacks=["claude-sonnet"]`, the form clients send in a request body)
is a fallback for every group, like `{"*": [...]}`. A context-window or content-policy error uses only its own
list when one is configured for the group, and the generic lists otherwise (as LiteLLM does). A fallback group is
tried with its own retries but does not fall back further: the list is the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sluicegate.errors import ContentPolicyViolationError, ContextWindowExceededError

FallbackMap = dict[str, list[str]]
REQUEST_KEYWORDS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
_ANY_GROUP = "*"


def fallback_map(value: Sequence[Mapping[str, Any] | str] | Mapping[str, Any] | None, name: str) -> FallbackMap:
    """LiteLLM's `[{group: [groups]}, …]` (or one dict) as {group: [groups]}; a bare name falls back for any group."""
    if value is None:
        return {}
    if isinstance(value, str):
        raise ValueError(f"{name} must be a list of model group names or {{model_group: [fallback groups]}} dicts, "
                         f"got the text {value!r}")
    entries = [value] if isinstance(value, Mapping) else list(value)
    result: FallbackMap = {}
    for entry in entries:
        if isinstance(entry, str):
            result.setdefault(_ANY_GROUP, []).append(entry)
            continue
        if not isinstance(entry, Mapping):
            raise ValueError(f"{name} must be a list of model group names or {{model_group: [fallback groups]}} "
                             f"dicts, got {entry!r}")
        for group, targets in entry.items():
            if not isinstance(targets, str | list | tuple):
                raise ValueError(f"{name}: the fallbacks of {group!r} must be a list of model group names, "
                                 f"got {targets!r}")
            result.setdefault(str(group), []).extend([targets] if isinstance(targets, str) else map(str, targets))
    return result


@dataclass(slots=True)
class Fallbacks:
    generic: FallbackMap = field(default_factory=dict)
    context_window: FallbackMap = field(default_factory=dict)
    content_policy: FallbackMap = field(default_factory=dict)
    default: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, fallbacks: Any = None, context_window_fallbacks: Any = None,
                  content_policy_fallbacks: Any = None, default_fallbacks: Sequence[str] | None = None) -> Fallbacks:
        return cls(fallback_map(fallbacks, "fallbacks"),
                   fallback_map(context_window_fallbacks, "context_window_fallbacks"),
                   fallback_map(content_policy_fallbacks, "content_policy_fallbacks"),
                   list(default_fallbacks or ()))

    def overridden(self, request: Mapping[str, Any]) -> Fallbacks:
        """These fallbacks with a request's own `fallbacks` / `…_fallbacks` keywords in their place.

        A request's `fallbacks` replaces `default_fallbacks` too (LiteLLM folds those into its fallbacks list), so
        `fallbacks=[]` turns the generic ones off for that request."""
        if not any(name in request for name in REQUEST_KEYWORDS):
            return self
        has_own = "fallbacks" in request
        return Fallbacks(
            fallback_map(request["fallbacks"], "fallbacks") if has_own else self.generic,
            fallback_map(request["context_window_fallbacks"], "context_window_fallbacks")
            if "context_window_fallbacks" in request else self.context_window,
            fallback_map(request["content_policy_fallbacks"], "content_policy_fallbacks")
            if "content_policy_fallbacks" in request else self.content_policy,
            [] if has_own else self.default)

    def for_error(self, group: str, error: BaseException) -> list[str]:
        """The groups to try, in order, after `group` failed with `error`."""
        if isinstance(error, ContextWindowExceededError) and (found := _entry(self.context_window, group)) is not None:
            return _without(found, group)
        if isinstance(error, ContentPolicyViolationError) and (found := _entry(self.content_policy, group)) is not None:
            return _without(found, group)
        if (found := _entry(self.generic, group)) is not None:
            return _without(found, group)
        return _without(self.default, group)


def _entry(groups: FallbackMap, group: str) -> list[str] | None:
    """The group's own entry, else the entry for every group (`*`), else None."""
    return groups[group] if group in groups else groups.get(_ANY_GROUP)


def _without(groups: list[str], group: str) -> list[str]:
    return [g for g in groups if g != group]
