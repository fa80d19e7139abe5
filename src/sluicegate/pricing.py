"""The cost of a prepared call: which catalog entry prices it, and per-call price overrides.

Shared by the SDK (response._hidden_params) and the gateway (x-litellm-response-cost, metrics); the cost
never fails a call: an unknown model or one without a published price costs None.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sluicegate.catalog.cost import usage_cost
from sluicegate.catalog.lookup import ModelInfo, find_model
from sluicegate.errors import NotFoundError
from sluicegate.prepare import Prepared


def priced_model(prepared: Prepared, reported_model: str | None) -> ModelInfo | None:
    """The catalog entry to price this call by. An Azure deployment name is no model name, so for Azure the
    model the response reports (or the caller's `base_model`) comes first."""
    call = prepared.call
    candidates = [prepared.base_model, call.model, reported_model]
    if call.provider == "azure":
        candidates = [prepared.base_model, reported_model, call.model]
    for name in candidates:
        if name:
            info = find_model(name, call.provider)
            if info is not None:
                return info
    return None


def call_cost(prepared: Prepared, reported_model: str | None, usage: Mapping[str, Any]) -> Decimal | None:
    """USD cost of the call from its usage; per-call prices (input/output_cost_per_token) win over the catalog."""
    prices = prepared.prices
    if prices:
        prompt = Decimal(int(usage.get("prompt_tokens") or 0))
        completion = Decimal(int(usage.get("completion_tokens") or 0))
        return (prompt * prices.get("input_cost_per_token", Decimal(0))
                + completion * prices.get("output_cost_per_token", Decimal(0)))
    info = priced_model(prepared, reported_model)
    if info is None:
        return None
    try:
        return usage_cost(info, usage)
    except NotFoundError:  # a catalogued model without a published price (e.g. NVIDIA NIM's)
        return None
