"""Serialisation of generated events: JSON bytes, JSON-lines files, topic routing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson

from stream_app.contract import TYPE_TOPIC

_CHUNK = 4096


def encode(event: dict[str, object]) -> bytes:
    """One event as compact UTF-8 JSON (no trailing newline)."""
    return orjson.dumps(event)


def write_jsonl(events: Iterable[dict[str, object]], path: Path | str) -> int:
    """Write one compact JSON object per line to ``path``; returns the number written."""
    count = 0
    chunk: list[bytes] = []
    with open(path, "wb") as out:
        for event in events:
            chunk.append(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
            if len(chunk) >= _CHUNK:
                out.write(b"".join(chunk))
                count += len(chunk)
                chunk.clear()
        out.write(b"".join(chunk))
        count += len(chunk)
    return count


def topic_role(event: dict[str, object]) -> str:
    """The topic role ("product", "billing", "feedback", "support") the event belongs on.

    Events whose type is missing or unknown (injected invalid events) go to "product".
    """
    kind = event.get("type")
    return TYPE_TOPIC.get(kind, "product") if isinstance(kind, str) else "product"
