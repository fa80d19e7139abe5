"""Internal users: /user/new, /user/info, /user/update, /user/delete, /user/list (LiteLLM's paths and fields)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from sluicegate.gateway.db.queries.users import UserFilter
from sluicegate.gateway.deps import ManageDep
from sluicegate.gateway.manage import users
from sluicegate.gateway.manage.schemas.users import (
    UserCreate,
    UserCreated,
    UserDeleteRequest,
    UserInfo,
    UserList,
    UserRole,
    UserUpdate,
    UserUpdated,
)

router = APIRouter(tags=["users"])


@router.post("/user/new")
async def user_new(m: ManageDep, body: UserCreate) -> UserCreated:
    return await users.create_user(m, body)


@router.get("/user/info")
async def user_info(m: ManageDep, user_id: str | None = None) -> UserInfo:
    return await users.user_info(m, user_id)


@router.post("/user/update")
async def user_update(m: ManageDep, body: UserUpdate) -> UserUpdated:
    return await users.update_user(m, body)


@router.post("/user/delete")
async def user_delete(m: ManageDep, body: UserDeleteRequest) -> int:
    return await users.delete_users(m, body)


@router.get("/user/list")
async def user_list(m: ManageDep, page: int = Query(1, ge=1), page_size: int = Query(25, ge=1, le=100),
                    role: UserRole | None = None, user_ids: str | None = None, sso_user_ids: str | None = None,
                    user_email: str | None = None, team: str | None = None,
                    organization_id: str | None = None) -> UserList:
    """`user_ids` and `sso_user_ids` are comma-separated; `user_email` matches part of an address."""
    where = UserFilter(user_ids=_ids(user_ids), sso_user_ids=_ids(sso_user_ids), role=role, user_email=user_email,
                       team_id=team, organization_id=organization_id)
    return await users.list_users(m, where, page=page, page_size=page_size)


def _ids(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(part.strip() for part in text.split(",") if part.strip())
