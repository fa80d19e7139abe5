"""What a virtual key may do, as the hot path reads it: `Access` (models, usability, limits) and each entity's
`Limits`. Plain values, loaded by gateway/principals.py and read by enforcement.py and admission.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Limits:
    """One entity's budget and rate limits, as loaded: `entity` is "key:<hash>", "user:<id>", "team:<id>",
    "org:<id>", "member:<team>:<user>" or "end_user:<id>" — the name its counters go by."""

    entity: str
    spend: Decimal = Decimal(0)  # in the current budget window, as stored when loaded
    max_budget: Decimal | None = None
    soft_budget: Decimal | None = None
    budget_duration: str | None = None
    budget_reset_at: datetime | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    model_max_budget: dict[str, Decimal] = field(default_factory=dict)
    model_rpm_limit: dict[str, int] = field(default_factory=dict)
    model_tpm_limit: dict[str, int] = field(default_factory=dict)

    @property
    def is_limited(self) -> bool:
        return any(v is not None for v in (self.max_budget, self.soft_budget, self.rpm_limit, self.tpm_limit,
                                           self.max_parallel_requests)) or bool(
            self.model_max_budget or self.model_rpm_limit or self.model_tpm_limit)


@dataclass(frozen=True, slots=True)
class Access:
    """What a virtual key may do: its models (each non-empty list narrows: key ∩ team ∩ organisation), whether
    it is usable at all, and the limits of every entity it spends for, key first."""

    key_alias: str | None
    key_name: str | None
    blocked: bool
    expires: datetime | None
    model_lists: tuple[tuple[str, ...], ...]  # non-empty `models` lists of key, team, organisation
    aliases: dict[str, str]  # key aliases then team model_aliases: requested name → group
    limits: tuple[Limits, ...]
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    team_alias: str | None = None
    team_blocked: bool = False
