"""The management API (LiteLLM's endpoints and fields): one FastAPI router per aggregate, included by app.py."""

from __future__ import annotations

from fastapi import APIRouter

from sluicegate.gateway.routes.manage import (
    access_groups,
    budgets,
    customers,
    keys,
    models,
    organizations,
    spend,
    teams,
    users,
)


def routers() -> list[APIRouter]:
    """Every management router, in the order their paths are matched."""
    return [keys.router, users.router, teams.router, organizations.router, budgets.router, customers.router,
            spend.router, models.router, access_groups.router]
