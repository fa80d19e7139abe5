"""LiteLLM's duration strings — `budget_duration` and key `duration`: "30s", "15m", "1h", "1d", "7d", "30d", "1mo".

A number and a unit: s, m (minutes), h, d, w, mo (calendar months). `parse_duration` refuses anything else with a
message that names the accepted forms, so a typo in a budget is a 400, never a budget that silently never resets.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"\s*(\d+)\s*(s|m|h|d|w|mo)\s*")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
FORMS = '"30s", "15m", "1h", "1d", "7d", "30d" or "1mo" (a whole number and one of s, m, h, d, w, mo)'


@dataclass(frozen=True, slots=True)
class Duration:
    count: int
    unit: str  # one of s, m, h, d, w, mo

    def after(self, start: datetime) -> datetime:
        """The moment this duration after `start` (calendar months keep the day, clamped to the month's end)."""
        if self.unit == "mo":
            month_index = start.month - 1 + self.count
            year, month = start.year + month_index // 12, month_index % 12 + 1
            day = min(start.day, calendar.monthrange(year, month)[1])
            return start.replace(year=year, month=month, day=day)
        return start + timedelta(seconds=self.count * _SECONDS[self.unit])

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


def parse_duration(text: object, field: str = "budget_duration") -> Duration:
    """'30d' → Duration(30, 'd'); ValueError naming `field` and the accepted forms otherwise."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{field} must be a duration such as {FORMS}, got {text!r}")
    return Duration(int(match.group(1)), match.group(2))


def next_reset(duration: Duration, now: datetime, previous: datetime | None = None) -> datetime:
    """When a budget that resets every `duration` next resets: the first boundary after `now`, counted from
    `previous` (the last reset) so windows do not drift, or from `now` for a new budget."""
    boundary = duration.after(previous or now)
    if boundary <= now and duration.unit != "mo":  # down over many boundaries: jump, do not step through them
        step = duration.count * _SECONDS[duration.unit]
        missed = int((now - boundary).total_seconds() // step) + 1
        boundary += timedelta(seconds=missed * step)
    while boundary <= now:  # calendar months: at most a few steps per year missed
        boundary = duration.after(boundary)
    return boundary


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def first_reset(duration: Duration, now: datetime) -> datetime:
    """When a budget with a duration but no reset time yet (imported, or written by hand) next resets: counted from
    a fixed epoch (calendar months from the month's start), so the admission ledger and the database's reset job
    name the same window before and after the job records it."""
    anchor = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) if duration.unit == "mo" else EPOCH
    return next_reset(duration, now, anchor)
