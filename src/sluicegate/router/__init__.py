"""The router: model groups, deployments, strategies, retries, fallbacks, cooldowns and their shared state.

`Router` is LiteLLM's Router (router.py); `RouterState` is the interface its memory sits behind (state.py).
"""

from sluicegate.router.router import Router
from sluicegate.router.selection import Pick, Request
from sluicegate.router.state import MemoryState, RouterState, Usage

__all__ = ["MemoryState", "Pick", "Request", "Router", "RouterState", "Usage"]
