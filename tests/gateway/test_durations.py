"""LiteLLM's duration strings: parsed exactly, refused clearly, and budget resets that never drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sluicegate.gateway.durations import Duration, first_reset, next_reset, parse_duration

START = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", Duration(30, "s")), ("15m", Duration(15, "m")), ("1h", Duration(1, "h")), ("7d", Duration(7, "d")),
    ("2w", Duration(2, "w")), ("1mo", Duration(1, "mo")), (" 30d ", Duration(30, "d"))])
def test_parses_litellm_durations(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "1.5h", "-1d", "0d", "1y", "1 month", None, 30])
def test_refuses_anything_else_naming_the_field_and_forms(text: object) -> None:
    with pytest.raises(ValueError, match=r'^duration must be a duration such as "30s"'):
        parse_duration(text, "duration")


def test_months_keep_the_day_clamped_to_the_month_end() -> None:
    assert Duration(1, "mo").after(START) == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)
    assert Duration(12, "mo").after(START) == datetime(2027, 1, 31, 9, 30, tzinfo=UTC)


def test_next_reset_counts_from_the_last_reset_without_drift() -> None:
    hour = Duration(1, "h")
    assert next_reset(hour, START) == START + timedelta(hours=1)
    assert next_reset(hour, START + timedelta(minutes=70), previous=START) == START + timedelta(hours=2)
    long_down = START + timedelta(days=400, seconds=5)  # a gateway down for a year jumps, it does not loop
    assert next_reset(Duration(30, "s"), long_down, previous=START) == long_down + timedelta(seconds=25)
    assert next_reset(Duration(1, "mo"), datetime(2026, 4, 1, tzinfo=UTC), previous=START) == datetime(
        2026, 4, 28, 9, 30, tzinfo=UTC)


def test_a_first_window_is_counted_from_a_fixed_epoch_or_the_months_start() -> None:
    now = datetime(2026, 11, 23, 17, 5, 30, tzinfo=UTC)
    assert first_reset(parse_duration("1h"), now) == datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert first_reset(parse_duration("30s"), now) == datetime(2026, 11, 23, 17, 6, 0, tzinfo=UTC)
    assert first_reset(parse_duration("1mo"), now) == datetime(2026, 12, 1, tzinfo=UTC)
    # Asked again later in the same window: the same end, so every caller names the window alike.
    assert first_reset(parse_duration("1h"), now + timedelta(minutes=50)) == datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
