"""The base of every OpenAI-shaped response object: attribute and `["key"]` access, unknown fields kept."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class OpenAIObject(BaseModel):
    """A pydantic model that keeps fields it does not declare, so a provider's new field survives a round trip.

    LiteLLM's response objects also behave like dicts (`response["choices"][0]["message"]["content"]`);
    these do too, for reading.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and getattr(self, key, None) is not None

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None)
        return default if value is None else value

    def json(self, **kwargs: Any) -> str:  # LiteLLM callers expect a str from .json()
        return self.model_dump_json(exclude_none=False, **kwargs)
