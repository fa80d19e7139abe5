"""Server-sent events: a decoder fed bytes as they arrive, yielding whole events.

Follows the WHATWG event-stream rules that providers rely on: lines end in LF, CRLF or CR; a blank line ends
an event; `data:` lines join with LF; a leading space after the colon is dropped; `:` lines are comments.
"""

from __future__ import annotations

from sluicegate.providers.base import SseEvent


class SseDecoder:
    __slots__ = ("_buffer", "_data", "_event", "_id", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Decode the next bytes; returns the events they complete (possibly none)."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across two reads
        self._pending_cr = chunk.endswith(b"\r")
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buffer = buffer.split(b"\n")
        events: list[SseEvent] = []
        for raw in lines:
            event = self._line(raw.decode("utf-8"))
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SseEvent]:
        """End of stream: an event not followed by a blank line still counts (some servers omit it)."""
        events = self.feed(b"\n") if self._buffer else []
        if self._data:
            event = self._line("")
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            if not self._data and self._event is None:
                return None
            event = SseEvent(data="\n".join(self._data), event=self._event, id=self._id)
            self._data, self._event = [], None
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None  # "retry" and unknown fields are ignored, as the spec says
