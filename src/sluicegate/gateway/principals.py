"""Virtual key → `Principal`, cached: the key's row and its user, team, organisation and budgets, read once.

Cost per request once warm: one dict lookup. A miss reads the key and its owners (a handful of primary-key
queries, one request at a time per key however many arrive together). Any management change calls
`invalidate()`, which empties the cache of this instance; other instances pick the change up within `ttl_s`
(`general_settings.user_api_key_cache_ttl`, LiteLLM's name). An unknown key is remembered for a few seconds
only, so a key generated on another instance works almost at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sluicegate.gateway.access import Access, Limits
from sluicegate.gateway.auth import INTERNAL_USER, PROXY_ADMIN, Principal
from sluicegate.gateway.db.models import Budget, EndUser, Organization, Team, TeamMembership, User, VirtualKey

DEFAULT_TTL_S = 60.0
UNKNOWN_KEY_TTL_S = 5.0
MAX_END_USERS = 100_000  # cached end users; past this the cache starts over (the `user` field is the client's)


@dataclass(frozen=True, slots=True)
class EndUserAccess:
    blocked: bool
    limits: Limits | None  # from the end user's budget row, counting the end user's own spend


class PrincipalCache:
    """The `KeyLookup` the gateway authenticates virtual keys with; `invalidate()` after any management change."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[Principal | None, float]] = {}  # hash → (principal, expires at)
        self._loading: dict[str, asyncio.Future[Principal | None]] = {}
        self._generation = 0  # a load that started before an invalidation must not refill the cache
        self._end_users: dict[str, tuple[EndUserAccess | None, float]] = {}
        self.loads = 0  # database loads (tests count them to prove the warm path does none)

    async def principal(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is not None and entry[1] > self._clock():
            return entry[0]
        pending = self._loading.get(key_hash)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._loading[key_hash] = future
        generation = self._generation
        try:
            found = await self._load(key_hash)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it, nobody logs "never retrieved"
            raise
        finally:
            del self._loading[key_hash]
        if generation == self._generation:
            ttl = self._ttl_s if found is not None else min(self._ttl_s, UNKNOWN_KEY_TTL_S)
            self._entries[key_hash] = (found, self._clock() + ttl)
        future.set_result(found)
        return found

    def invalidate(self) -> None:
        """Forget every cached principal (management changes are rare; a partial invalidation could miss one)."""
        self._generation += 1
        self._entries.clear()
        self._end_users.clear()

    async def end_user(self, user_id: str) -> EndUserAccess | None:
        """An end user's (LiteLLM's customer's) block and budget, by the request's `user` field; cached for the
        TTL whether or not the row exists, so a client inventing user ids costs one query per id and TTL."""
        entry = self._end_users.get(user_id)
        if entry is not None and entry[1] > self._clock():
            return entry[0]
        generation = self._generation
        self.loads += 1
        async with self._sessions() as session:
            row = await session.get(EndUser, user_id)
            budget = await session.get(Budget, row.budget_id) if row is not None and row.budget_id else None
        found = None if row is None else EndUserAccess(
            blocked=row.blocked, limits=_limits_of(f"end_user:{user_id}", budget, spend=row.spend)
            if budget is not None else None)
        if generation == self._generation:
            if len(self._end_users) >= MAX_END_USERS:
                self._end_users.clear()
            self._end_users[user_id] = (found, self._clock() + self._ttl_s)
        return found

    async def _load(self, key_hash: str) -> Principal | None:
        self.loads += 1
        async with self._sessions() as session:
            key = await session.get(VirtualKey, key_hash)
            if key is None:
                return None
            return await _principal_of(session, key)


async def _principal_of(session: AsyncSession, key: VirtualKey) -> Principal:
    user = await session.get(User, key.user_id) if key.user_id else None
    team = await session.get(Team, key.team_id) if key.team_id else None
    org_id = key.organization_id or (team.organization_id if team else None)
    org = await session.get(Organization, org_id) if org_id else None
    member = (await session.get(TeamMembership, (key.user_id, key.team_id))
              if key.user_id and key.team_id else None)
    budget_ids = {i for i in (key.budget_id, org.budget_id if org else None, member.budget_id if member else None)
                  if i}
    budgets = {b.budget_id: b for b in (await session.scalars(
        select(Budget).where(Budget.budget_id.in_(budget_ids)))).all()} if budget_ids else {}

    limits = [_limits_of(f"key:{key.token}", key, budgets.get(key.budget_id or ""))]
    if user is not None:
        limits.append(_limits_of(f"user:{user.user_id}", user))
    if team is not None:
        limits.append(_limits_of(f"team:{team.team_id}", team))
    if member is not None and member.budget_id in budgets:
        limits.append(_limits_of(f"member:{team.team_id if team else ''}:{member.user_id}",
                                 budgets[member.budget_id], spend=member.spend))
    if org is not None and org.budget_id in budgets:
        limits.append(_limits_of(f"org:{org.organization_id}", budgets[org.budget_id], spend=org.spend))

    # A personal key is bounded by its user's models; a team key by its team's (as in LiteLLM).
    owner_models = team.models if team is not None else (user.models if user is not None else [])
    model_lists = tuple(tuple(models) for models in (key.models, owner_models, org.models if org else [])
                        if models)
    aliases = {**(team.model_aliases if team else {}), **(key.aliases or {})}
    access = Access(key_alias=key.key_alias, key_name=key.key_name, blocked=key.blocked, expires=key.expires,
                    model_lists=model_lists, aliases={str(k): str(v) for k, v in aliases.items()},
                    limits=tuple(limit for limit in limits if limit.is_limited or limit.entity.startswith("key:")),
                    tags=tuple(key.tags or ()), metadata=dict(key.metadata_ or {}),
                    team_alias=team.team_alias if team else None, team_blocked=bool(team and team.blocked))
    role = user.user_role if user is not None else INTERNAL_USER
    return Principal(is_admin=role == PROXY_ADMIN, role=role, key_hash=key.token, user_id=key.user_id,
                     team_id=key.team_id, org_id=org_id, access=access)


def _limits_of(entity: str, row: Any, budget: Budget | None = None, *, spend: Decimal | None = None) -> Limits:
    """An entity's limits from its own row; a linked budget row fills in what the row leaves unset."""

    def pick(name: str) -> Any:
        value = getattr(row, name, None)
        if value is None and budget is not None:
            value = getattr(budget, name, None)
        return value

    return Limits(
        entity=entity,
        spend=spend if spend is not None else (getattr(row, "spend", None) or Decimal(0)),
        max_budget=pick("max_budget"), soft_budget=pick("soft_budget"), budget_duration=pick("budget_duration"),
        budget_reset_at=pick("budget_reset_at"), rpm_limit=pick("rpm_limit"), tpm_limit=pick("tpm_limit"),
        max_parallel_requests=pick("max_parallel_requests"),
        model_max_budget={m: Decimal(str(v.get("budget_limit") if isinstance(v, dict) else v))
                          for m, v in (pick("model_max_budget") or {}).items()
                          if (v.get("budget_limit") if isinstance(v, dict) else v) is not None},
        model_rpm_limit={m: int(v) for m, v in (getattr(row, "model_rpm_limit", None) or {}).items()},
        model_tpm_limit={m: int(v) for m, v in (getattr(row, "model_tpm_limit", None) or {}).items()},
    )
