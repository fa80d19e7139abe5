"""What one served request cost, as an immutable value and as one JSON line of the spend journal.

Only the record: the journal (journal.py) stores it, the writer (writer.py) moves it to the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

FORMAT_VERSION = 1  # the "v" of every journal line; bump it when a field changes meaning


@dataclass(frozen=True, slots=True)
class SpendRecord:
    """One request's cost and attribution; `request_id` is unique (the database's dedup key)."""

    request_id: str
    model: str
    spend_usd: Decimal  # exact: serialised as a string, never as a float
    start_time: datetime  # timezone-aware (UTC) by convention
    end_time: datetime
    api_key_hash: str | None = None  # the stored hash of the virtual key, never the key itself
    user_id: str | None = None
    team_id: str | None = None
    org_id: str | None = None
    end_user: str | None = None  # the request's `user` field (LiteLLM's end user / customer)
    model_group: str | None = None  # the model name the client asked for
    deployment_id: str | None = None
    provider: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens read from the provider's cache
    cache_creation_tokens: int = 0  # prompt tokens written to the provider's cache
    status: str = "success"
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)  # JSON values only

    def to_json_line(self) -> bytes:
        """This record as one newline-terminated JSON object (the journal's line format)."""
        return orjson.dumps(
            {
                "v": FORMAT_VERSION,
                "request_id": self.request_id,
                "model": self.model,
                "spend_usd": str(self.spend_usd),
                "start_time": self.start_time,
                "end_time": self.end_time,
                "api_key_hash": self.api_key_hash,
                "user_id": self.user_id,
                "team_id": self.team_id,
                "org_id": self.org_id,
                "end_user": self.end_user,
                "model_group": self.model_group,
                "deployment_id": self.deployment_id,
                "provider": self.provider,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cached_tokens": self.cached_tokens,
                "cache_creation_tokens": self.cache_creation_tokens,
                "status": self.status,
                "tags": self.tags,
                "metadata": self.metadata,
            },
            default=_json_default,
            option=orjson.OPT_APPEND_NEWLINE,
        )

    @classmethod
    def from_json_line(cls, line: bytes) -> SpendRecord:
        """Parse one journal line; raises ValueError when it is not a complete record.

        Keys this version does not know are ignored, so a journal written by a newer release still replays.
        """
        try:
            data = orjson.loads(line)
            if not isinstance(data, dict):
                raise ValueError(f"a spend journal line must be a JSON object, got {type(data).__name__}")
            return cls(
                request_id=data["request_id"],
                model=data["model"],
                spend_usd=Decimal(data["spend_usd"]),
                start_time=datetime.fromisoformat(data["start_time"]),
                end_time=datetime.fromisoformat(data["end_time"]),
                api_key_hash=data.get("api_key_hash"),
                user_id=data.get("user_id"),
                team_id=data.get("team_id"),
                org_id=data.get("org_id"),
                end_user=data.get("end_user"),
                model_group=data.get("model_group"),
                deployment_id=data.get("deployment_id"),
                provider=data.get("provider"),
                prompt_tokens=data.get("prompt_tokens", 0),
                completion_tokens=data.get("completion_tokens", 0),
                cached_tokens=data.get("cached_tokens", 0),
                cache_creation_tokens=data.get("cache_creation_tokens", 0),
                status=data.get("status", "success"),
                tags=tuple(data.get("tags") or ()),
                metadata=data.get("metadata") or {},
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # JSONDecodeError is a ValueError
            raise ValueError(f"not a spend record: {exc!r}") from exc


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):  # a Decimal inside metadata: keep it exact, as a string
        return str(value)
    if isinstance(value, Mapping):  # e.g. a MappingProxyType
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable in spend metadata")
