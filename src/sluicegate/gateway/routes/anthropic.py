"""Anthropic's Messages API routes, served by any model group (see gateway/anthropic/)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from sluicegate.gateway.anthropic import messages
from sluicegate.gateway.pipeline import Answer


async def create_message(request: Request) -> Answer:
    return await messages.create_message(request.app.state.gateway, request)


async def count_tokens(request: Request) -> Answer:
    return await messages.count_tokens(request.app.state.gateway, request)


def routes() -> list[Route]:
    """Only under /v1, where Anthropic's clients send them."""
    return [Route("/v1/messages", create_message, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"])]
