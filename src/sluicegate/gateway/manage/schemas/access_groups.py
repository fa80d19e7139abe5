"""Model access groups (LiteLLM's NewModelGroupRequest / UpdateModelGroupRequest / NewModelGroupResponse /
DeleteModelGroupResponse / AccessGroupInfo / ListAccessGroupsResponse), same field names.

Members are named by `model_names` (every deployment of each name) or `model_ids` (those deployments only); when
both are sent `model_ids` decides, as in LiteLLM.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AccessGroupCreate(BaseModel):
    """POST /access_group/new."""

    access_group: str
    model_names: list[str] | None = None
    model_ids: list[str] | None = None


class AccessGroupUpdate(BaseModel):
    """PUT /access_group/{access_group}/update: the group's whole new membership, not a change to it."""

    model_names: list[str] | None = None
    model_ids: list[str] | None = None


class AccessGroupSaved(BaseModel):
    """The answer to /access_group/new and /update: the request's members, and how many stored deployments the
    group now takes in from them."""

    model_config = ConfigDict(protected_namespaces=())

    access_group: str
    model_names: list[str] | None = None
    model_ids: list[str] | None = None
    models_updated: int


class AccessGroupDeleted(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    access_group: str
    models_updated: int  # stored deployments the group was removed from
    message: str


class AccessGroupPublic(BaseModel):
    """One access group: the model names in it and how many deployments carry it, config.yaml's and stored
    alike. `config_model_names` (sluicegate's own) are the names in it by config.yaml, which this API cannot
    change."""

    model_config = ConfigDict(protected_namespaces=())

    access_group: str
    model_names: list[str]
    deployment_count: int
    config_model_names: list[str]


class AccessGroupList(BaseModel):
    access_groups: list[AccessGroupPublic]
