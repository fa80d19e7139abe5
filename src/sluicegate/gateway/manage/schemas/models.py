"""Models stored in the database (LiteLLM's Deployment / updateDeployment / LiteLLM_ProxyModelTable) and the
read-only views of every served model (`/model/info`, `/model_group/info`).

`litellm_params` and `model_info` stay open mappings here: the one check of their keys and values is the one
config.yaml's entries get (config.py), so a stored model and a configured one are held to the same rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelCreate(BaseModel):
    """POST /model/new: `model_info.id` chooses the id (a new UUID otherwise)."""

    model_name: str = Field(min_length=1)
    litellm_params: dict[str, Any]
    model_info: dict[str, Any] = Field(default_factory=dict)


class ModelUpdate(BaseModel):
    """POST /model/update (`model_info.id` names the model) and PATCH /model/{model_id}/update. Only the keys
    sent change; a key sent as null is removed by PATCH and left as it is by POST (as in LiteLLM)."""

    model_name: str | None = Field(default=None, min_length=1)
    litellm_params: dict[str, Any] | None = None
    model_info: dict[str, Any] | None = None


class ModelDeleteRequest(BaseModel):
    id: str = Field(min_length=1)


class ModelPublic(BaseModel):
    """A stored model as LiteLLM answers /model/new and /model/update: credentials left out or masked."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    model_name: str
    litellm_params: dict[str, Any]
    model_info: dict[str, Any]
    created_at: datetime | None = None
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class ModelDeleted(BaseModel):
    message: str


class ModelInfoList(BaseModel):
    """GET /model/info: one entry per deployment, `{model_name, litellm_params, model_info}`."""

    data: list[dict[str, Any]]


class ModelInfoPage(ModelInfoList):
    """GET /v2/model/info: a page of /model/info's entries."""

    total_count: int
    current_page: int
    size: int
    total_pages: int


class ModelGroupInfo(BaseModel):
    """One model group as clients see it (LiteLLM's ModelGroupInfo): what it costs, how much it takes."""

    model_config = ConfigDict(protected_namespaces=())

    model_group: str
    providers: list[str]
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    mode: str | None = "chat"
    tpm: int | None = None
    rpm: int | None = None
    supports_parallel_function_calling: bool = False
    supports_vision: bool = False
    supports_function_calling: bool = False


class ModelGroupInfoList(BaseModel):
    data: list[ModelGroupInfo]
