"""The management API's error bodies: OpenAI's shape, with the status a client can act on."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy.exc import OperationalError
from starlette.requests import Request

from sluicegate.gateway.management_errors import render_database_busy


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/key/generate", "headers": []})


async def test_a_locked_sqlite_database_is_a_503_to_retry() -> None:
    busy = OperationalError("UPDATE …", {}, Exception("database is locked"))
    answer = await render_database_busy(_request(), busy)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert orjson.loads(answer.body)["error"]["code"] == "database_busy"


async def test_other_database_errors_are_not_disguised_as_busy() -> None:
    broken = OperationalError("SELECT …", {}, Exception("no such table: virtual_keys"))
    with pytest.raises(OperationalError):
        await render_database_busy(_request(), broken)
