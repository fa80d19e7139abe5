from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from sluicegate.gateway.spend import SpendRecord
from tests.gateway.spend.records import make_record


def test_round_trip_keeps_every_field_exactly() -> None:
    record = SpendRecord(
        request_id="chatcmpl-1", model="anthropic/claude-sonnet-4-5",
        spend_usd=Decimal("0.000123456789012345678901234"),
        start_time=datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        end_time=datetime(2026, 5, 6, 7, 8, 10, 654321, tzinfo=UTC),
        api_key_hash="abc", user_id="u-1", team_id="t-1", org_id="o-1", end_user="customer-☃",
        model_group="claude", deployment_id="dep-1", provider="anthropic",
        prompt_tokens=1200, completion_tokens=34, cached_tokens=1000, cache_creation_tokens=56,
        status="failure", tags=("prod", "équipe"),
        metadata={"note": "日本語 🚀\nsecond line", "nested": {"list": [1, 2.5, None, True]}},
    )
    line = record.to_json_line()

    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert SpendRecord.from_json_line(line) == record


def test_spend_is_written_as_a_string_never_a_float() -> None:
    record = replace(make_record(0), spend_usd=Decimal("0.1"), metadata={"price": Decimal("1.10")})

    data = orjson.loads(record.to_json_line())

    assert data["spend_usd"] == "0.1"
    assert data["metadata"] == {"price": "1.10"}
    assert data["v"] == 1


def test_unknown_keys_from_a_newer_release_are_ignored() -> None:
    data = orjson.loads(make_record(3).to_json_line())
    data["added_later"] = {"x": 1}

    assert SpendRecord.from_json_line(orjson.dumps(data)) == make_record(3)


@pytest.mark.parametrize("line", [
    b'{"request_id": "r", "model": "m", "spend_usd": "1"',  # torn
    b'{"model": "m", "spend_usd": "1", "start_time": "2026-01-01T00:00:00", "end_time": "2026-01-01T00:00:00"}',
    b'{"request_id": "r", "model": "m", "spend_usd": "one", "start_time": "2026-01-01", "end_time": "2026-01-01"}',
    b'{"request_id": "r", "model": "m", "spend_usd": "1", "start_time": "yesterday", "end_time": "2026-01-01"}',
    b"[1, 2]",
    b"\x00\x00\x00",
])
def test_a_line_that_is_not_a_record_raises_value_error(line: bytes) -> None:
    with pytest.raises(ValueError, match="not a spend record"):
        SpendRecord.from_json_line(line)
