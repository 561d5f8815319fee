"""Small builders shared by the unit tests."""

from __future__ import annotations

from typing import Any

import orjson


def ev(
    type_: str = "session_started",
    *,
    eid: str,
    ts: str,
    account: str = "acme",
    **fields: Any,
) -> bytes:
    """One event as the bytes of a Kafka message / JSONL line."""
    body: dict[str, Any] = {"event_id": eid, "type": type_, "ts": ts, "account_id": account}
    if type_ in (
        "session_started",
        "user_signed_up",
        "referral_sent",
        "feature_used",
        "milestone_reached",
        "survey_answered",
    ):
        body.setdefault("user_id", "u1")
    body.update(fields)
    return orjson.dumps(body)


def samples(text: bytes) -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value} (comments dropped)."""
    out: dict[str, float] = {}
    for line in text.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
