"""Request bodies -> events to produce, or per-index rejections: plain Python, no I/O.

A body is one JSON object, a JSON array of objects, or NDJSON (one object per line).
Each event is validated by the contract's parser (:class:`stream_app.contract.EventParser`,
the code the workers run), so the collector accepts exactly what a worker accepts, and
refuses with the same reason words (the ``reason`` label of ``cs_events_rejected_total``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC

import orjson

from stream_app.contract import TYPE_TOPIC, EventParser, Rejection, message_key


class BodyError(ValueError):
    """The body as a whole is unusable (not JSON, empty, too many events)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid event, ready to produce: its topic role, message key and value bytes."""

    index: int
    role: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int
    reason: str
    detail: str


@dataclass
class Intake:
    """The outcome of one body: what to produce and what to refuse, by index."""

    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.accepted) + len(self.rejected)


def split_body(body: bytes, max_events: int) -> list[bytes | Rejection]:
    """The events of a body, each as its own JSON bytes (or, for an NDJSON line that is
    not JSON, its rejection). Raises :class:`BodyError` for a body that is not JSON."""
    text = body.strip()
    if not text:
        raise BodyError("empty", "the body holds no event")
    try:
        whole = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        lines = [ln for ln in text.split(b"\n") if ln.strip()]
        if len(lines) < 2 or not lines[0].lstrip().startswith(b"{"):
            raise BodyError("invalid_json", f"not JSON or NDJSON: {exc}") from None
        if len(lines) > max_events:
            raise BodyError("too_many_events", f"{len(lines)} events > {max_events}") from None
        return [_line(ln) for ln in lines]
    if isinstance(whole, list):
        if not whole:
            raise BodyError("empty", "the array holds no event")
        if len(whole) > max_events:
            raise BodyError("too_many_events", f"{len(whole)} events > {max_events}")
        return [orjson.dumps(item) for item in whole]
    return [orjson.dumps(whole)]


def _line(line: bytes) -> bytes | Rejection:
    try:
        return orjson.dumps(orjson.loads(line))
    except orjson.JSONDecodeError as exc:
        return Rejection("invalid_json", str(exc))


class Validator:
    """Validates events with the contract's parser; ``roles`` limits the topics accepted
    (``/v1/web`` takes the web topic only: anything else is ``wrong_topic``)."""

    def __init__(self, max_message_bytes: int, roles: Collection[str] | None = None) -> None:
        self.parser = EventParser(UTC, max_message_bytes)
        self.roles = frozenset(roles) if roles is not None else None

    def check(self, items: list[bytes | Rejection]) -> Intake:
        out = Intake()
        for index, item in enumerate(items):
            parsed = item if isinstance(item, Rejection) else self.parser.parse(item)
            if isinstance(parsed, Rejection):
                out.rejected.append(Rejected(index, parsed.reason, parsed.detail))
                continue
            event, _day = parsed
            role = TYPE_TOPIC[event.type]
            if self.roles is not None and role not in self.roles:
                allowed = ", ".join(sorted(self.roles))
                detail = f"type {event.type!r} is not carried by this endpoint ({allowed})"
                out.rejected.append(Rejected(index, "wrong_topic", detail))
                continue
            key = message_key(event).encode()
            assert isinstance(item, bytes)
            out.accepted.append(Accepted(index, role, key, item))
        return out
