"""Models stored in the database (/model/new), served beside config.yaml's by every instance without a restart.

`ModelCatalogSync` turns the stored rows into `Deployment`s (source "db", id = the row's model_id) by the rules
config.yaml's entries follow, then swaps config + stored deployments into the running gateway: its model groups,
the router (which keeps cooldowns and usage of unchanged ids: they live in its state, by id) and the enforcement
tables. The instance that made a change applies it at once; every instance polls `catalog_version` (one aggregate
query) every `general_settings.model_poll_interval_s` and reloads only when it moved. Not the management API:
that is manage/models.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sluicegate.errors import BadRequestError, ConfigError
from sluicegate.gateway.config import Deployment, check_deployment
from sluicegate.gateway.db.models import ProxyModel
from sluicegate.gateway.db.queries import models as queries
from sluicegate.gateway.pipeline import GatewayState
from sluicegate.gateway.secrets_at_rest import SealingError, SecretBox, open_secrets, secret_box

DB_SOURCE = "db"  # Deployment.source of a stored model
DEFAULT_POLL_INTERVAL_S = 10.0
log = logging.getLogger("sluicegate.gateway.models")


def checked_deployment(model_id: str, model_name: Any, litellm_params: Any, model_info: Mapping[str, Any],
                       environ: Mapping[str, str] | None = None, warnings: list[str] | None = None) -> Deployment:
    """A stored model (secrets already opened) as the gateway serves it; BadRequestError names what is wrong."""
    entry = {"model_name": model_name, "litellm_params": litellm_params, "model_info": {**model_info, "id": model_id}}
    try:
        return check_deployment(entry, source=DB_SOURCE, environ=environ, warnings=warnings)
    except ConfigError as exc:
        raise BadRequestError(exc.reason, param=exc.reason.split(":", 1)[0], code="invalid_model") from None


def stored_deployment(row: ProxyModel, box: SecretBox | None, environ: Mapping[str, str] | None = None
                      ) -> Deployment:
    """A row → its Deployment: secrets decrypted, `os.environ/NAME` values read from this instance's environment."""
    try:
        params = open_secrets(row.litellm_params, box)
    except SealingError as exc:
        raise BadRequestError(str(exc), code="invalid_model") from None
    return checked_deployment(row.model_id, row.model_name, params, row.model_info or {}, environ)


class ModelCatalogSync:
    """Loads the stored models into one gateway's running state; remembers the catalog version it last loaded."""

    def __init__(self, state: GatewayState, environ: Mapping[str, str] | None = None) -> None:
        self.state = state
        self.environ = os.environ if environ is None else environ
        self.version: queries.CatalogVersion | None = None

    async def refresh(self, session: AsyncSession) -> None:
        """Load every stored model and serve them (after a change this instance made)."""
        self.apply(self.deployments(await queries.all_models(session)))

    async def refresh_if_changed(self, session: AsyncSession) -> bool:
        """Reload only when the catalog's version moved since the last load (the poll); True when it did."""
        version = await queries.catalog_version(session)
        if version == self.version:
            return False
        await self.refresh(session)  # a write landing meanwhile moves the version again: the next poll reloads
        self.version = version
        return True

    def deployments(self, rows: Sequence[ProxyModel]) -> list[Deployment]:
        """The rows as Deployments; a row this instance cannot serve (a variable or the salt key missing here,
        an id config.yaml took since) is left out and logged, never fatal to the rest."""
        box = secret_box(self.environ)
        config_ids = {d.id for d in self.config_deployments()}
        found = []
        for row in rows:
            if row.model_id in config_ids:
                log.error("stored model %s (%s) is not served: config.yaml has a deployment with the same id",
                          row.model_id, row.model_name)
                continue
            try:
                found.append(stored_deployment(row, box, self.environ))
            except BadRequestError as exc:
                log.error("stored model %s (%s) is not served: %s", row.model_id, row.model_name, exc.message)
        return found

    def config_deployments(self) -> list[Deployment]:
        return [d for d in self.state.groups.deployments() if d.source != DB_SOURCE]

    def apply(self, stored: Sequence[Deployment]) -> None:
        """Serve config.yaml's deployments and then `stored` (a stored model named like a config group joins it).

        Synchronous on purpose: no request sees the groups, router and enforcement tables half swapped."""
        before = {d.id: d for d in self.state.groups.deployments()}
        served = (*self.config_deployments(), *stored)
        if tuple(before.values()) == served:
            return
        self.state.groups.replace(served)
        self.state.router.set_model_list(_router_entries(served))
        self.state.enforcement.update_deployments(served)
        after = {d.id: d for d in served}
        if any(after.get(deployment_id) != deployment for deployment_id, deployment in before.items()):
            _forget_resolutions(self.state)
        log.info("serving %d deployment(s), %d of them stored in the database", len(served), len(stored))


async def run_model_sync(state: GatewayState, sessions: async_sessionmaker[AsyncSession],
                         interval_s: float = DEFAULT_POLL_INTERVAL_S) -> None:
    """The gateway's background task: load the stored models now, then whenever they change anywhere."""
    sync = ModelCatalogSync(state)
    while True:
        try:
            async with sessions() as session:
                await sync.refresh_if_changed(session)
        except Exception:  # a background worker: log and try again next time
            log.exception("loading the stored models failed; retrying in %.0f s", interval_s)
        await asyncio.sleep(interval_s)


def _router_entries(deployments: Sequence[Deployment]) -> list[dict[str, Any]]:
    """LiteLLM's model_list for the router, with the gateway's ids (as routing.model_list gives config's)."""
    return [{"model_name": d.model_name, "litellm_params": dict(d.params), "model_info": {**d.model_info, "id": d.id}}
            for d in deployments]


def _forget_resolutions(state: GatewayState) -> None:
    """A deployment changed or went away: its resolved model and credentials must not be reused (no I/O: each
    deployment resolves again on next use)."""
    state.resolutions.clear()
