"""Reading the recorded wire fixtures the translation tests compare against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parents[2] / "fixtures"


def load_json(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / name).read_text())


def openai_chunks(name: str) -> list[dict[str, Any]]:
    """The chunks of a recorded OpenAI stream, without the [DONE] marker."""
    lines = (FIXTURES / "openai" / name).read_text().splitlines()
    return [json.loads(line[6:]) for line in lines if line.startswith("data: ") and line != "data: [DONE]"]


def anthropic_events(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of a recorded Anthropic stream."""
    events = []
    name_line = None
    for line in (FIXTURES / "anthropic" / name).read_text().splitlines():
        if line.startswith("event: "):
            name_line = line[7:]
        elif line.startswith("data: "):
            events.append((name_line or "", json.loads(line[6:])))
    return events


def decode(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Our encoded events back into (name, data), checking the framing on the way."""
    out = []
    for frame in raw.decode().split("\n\n"):
        if frame:
            event, data = frame.split("\n")
            assert event.startswith("event: ")
            assert data.startswith("data: ")
            out.append((event[7:], json.loads(data[6:])))
    return out
