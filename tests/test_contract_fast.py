"""The contract's fast path never changes an outcome: on valid and near-valid input it
either defers to pydantic or returns exactly what pydantic would (same fields, same
time to the microsecond, same calendar day)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.contract import TYPE_KEY, TYPES, Event, EventParser, Rejection, parse_event
from stream_app.contract.fast import _of_model
from stream_app.timeutil import day_of

ZONES = [UTC, ZoneInfo("Europe/Paris"), ZoneInfo("Asia/Kolkata"), ZoneInfo("America/St_Johns")]

BASE: dict[str, dict[str, Any]] = {
    "user_signed_up": {"user_id": "u1"},
    "session_started": {"user_id": "u1"},
    "referral_sent": {"user_id": "u2"},
    "feature_used": {"user_id": "u1", "feature": "reports"},
    "milestone_reached": {"user_id": "u1", "milestone": "first_report"},
    "subscription_started": {"plan": "pro", "mrr": 4900, "currency": "USD"},
    "subscription_changed": {"plan": "team", "mrr": 9900, "currency": "EUR"},
    "subscription_renewed": {"plan": "pro", "mrr": 0, "currency": "GBP"},
    "subscription_cancelled": {"reason": "price"},
    "invoice_paid": {"amount": 4900, "currency": "EUR"},
    "payment_failed": {"amount": 0, "currency": "USD"},
    "survey_answered": {"user_id": "u1", "survey": "nps", "score": 9},
    "ticket_opened": {"ticket_id": "t1", "channel": "chat"},
    "ticket_resolved": {"ticket_id": "t1", "contacts": 2},
    "checkout_started": {"checkout_id": "c1", "amount": 1200, "currency": "USD"},
    "order_placed": {"order_id": "o1", "checkout_id": "c1", "amount": 1200, "currency": "USD"},
    "page_viewed": {"visitor_id": "v1", "path": "/pricing", "referrer": "", "user_id": "u1"},
    "page_left": {"visitor_id": "v1", "path": "/", "engaged_ms": 1500, "max_scroll_pct": 40},
    "link_shown": {"visitor_id": "v1", "link": "signup-cta"},
    "link_clicked": {"visitor_id": "v1", "link": "signup-cta"},
    "visit_survey_answered": {"visitor_id": "v1", "survey": "task_completion", "answer": "yes"},
    "spend_recorded": {
        "source": "google-ads",
        "category": "marketing",
        "amount": 5,
        "currency": "EUR",
    },
    "social_interaction": {"source": "linkedin", "interaction": "mention", "sentiment": "negative"},
    "employee_survey_answered": {"source": "eng", "survey": "satisfaction", "score": 4},
}

#: every declared field, the common ones, and two the contract does not know
FIELDS = sorted(
    {f.name for t in TYPES.values() for f in t.fields} | {"event_id", "type", "ts", "extra", "us"}
)


def test_every_declared_type_has_a_sample() -> None:
    assert set(BASE) == set(TYPES), "add a valid sample of each declared type to BASE"


ts_text = st.builds(
    lambda y, mo, d, h, mi, s, sep, frac, off: (
        f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{off}"
    ),
    st.sampled_from([1, 1969, 1970, 2024, 2026, 9999]),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 24),
    st.integers(0, 60),
    st.integers(0, 61),
    st.sampled_from(["T", "t", " "]),
    st.sampled_from(["", ".5", ".123", ".123456", ".1234567", ".", ".12a"]),
    st.sampled_from(
        ["Z", "z", "+00:00", "-00:00", "+05:30", "-03:30", "+23:59", "+24:00", "", "+0100", "+01"]
    ),
)
json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.floats(allow_nan=False),
    st.text(max_size=130),
    st.sampled_from(
        ["", "x" * 64, "x" * 65, "x" * 128, "x" * 129, "USD", "usd", "ÉUR", "٣", "chat"]
    ),
    st.lists(st.integers(), max_size=2),
)


def _outcome(parsed: tuple[Event, int] | Rejection) -> object:
    if isinstance(parsed, Rejection):
        return parsed.reason, parsed.detail
    return parsed[0].__dict__, parsed[1]


def decoded_agrees(raw: bytes, tz: Any) -> None:
    """``parse(raw, orjson.loads(raw))`` (a caller that decoded the line already, as a
    split replay's share) gives what ``parse(raw)`` gives."""
    try:
        decoded = orjson.loads(raw)
    except ValueError:
        decoded = None
    plain = EventParser(tz).parse(raw)
    assert _outcome(EventParser(tz).parse(raw, decoded)) == _outcome(plain), raw


def both(raw: bytes, tz: Any) -> None:
    """The fast path agrees with pydantic on ``raw``."""
    decoded_agrees(raw, tz)
    parser = EventParser(tz)
    fast = parser._fast(raw)
    slow = parse_event(raw)
    if fast is None:
        full = parser.parse(raw)  # deferred: the outcome is pydantic's
        if isinstance(slow, Rejection):
            assert isinstance(full, Rejection) and full.reason == slow.reason
        return
    assert not isinstance(slow, Rejection), (raw, slow)
    event, day = fast
    assert event.__dict__ == _of_model(slow).__dict__, raw
    assert day == day_of(slow.ts, tz)
    assert event.ts == slow.ts


@settings(max_examples=600, deadline=None)
@given(
    kind=st.sampled_from(sorted(BASE)),
    ts=ts_text,
    field=st.sampled_from(FIELDS),
    value=json_value,
    mode=st.sampled_from(["replace", "drop", "keep"]),
    tz=st.sampled_from(ZONES),
)
def test_fast_path_agrees_with_pydantic(
    kind: str, ts: str, field: str, value: Any, mode: str, tz: Any
) -> None:
    body: dict[str, Any] = {"event_id": "e1", "type": kind, "ts": ts}
    if TYPE_KEY[kind] == "account_id":
        body["account_id"] = "acme"
    body.update(BASE[kind])
    if mode == "replace":
        body[field] = value
    elif mode == "drop":
        body.pop(field, None)
    try:
        raw = orjson.dumps(body)
    except TypeError:  # an integer beyond 64 bits: write it as text
        raw = orjson.dumps({k: v for k, v in body.items() if k != field})[:-1] + (
            f',"{field}":{value}}}'.encode()
        )
    both(raw, tz)


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(
    "ts",
    [
        "2026-03-29T00:59:59.999999Z",  # Paris skips 02:00 local that night
        "2026-03-29T01:00:00Z",
        "2026-10-25T00:30:00+00:00",
        "2026-01-01T18:29:59Z",  # Kolkata's midnight falls inside this UTC hour
        "2026-01-01T18:30:00Z",
        "2026-01-01T02:29:59.5-01:00",
        "1970-01-01T00:00:00Z",
    ],
)
def test_days_around_local_midnights(ts: str, tz: Any) -> None:
    raw = orjson.dumps(
        {"event_id": "e", "type": "session_started", "ts": ts, "account_id": "a", "user_id": "u"}
    )
    parser = EventParser(tz)
    fast = parser._fast(raw)
    assert fast is not None
    assert fast[1] == day_of(datetime.fromisoformat(ts.replace("Z", "+00:00")), tz)


def test_extra_fields_are_dropped_and_absent_ones_read_as_defaults() -> None:
    raw = orjson.dumps(
        {
            "event_id": "e",
            "type": "subscription_cancelled",
            "account_id": "a",
            "ts": "2026-01-01T00:00:00Z",
            "currency": "XYZ",
            "us": 5,
            "mrr": "x",
        }
    )
    fast = EventParser(UTC)._fast(raw)
    assert fast is not None
    event = fast[0]
    assert isinstance(event, Event)
    assert (event.currency, event.mrr, event.reason, event.us) == ("", 0, None, 1767225600000000)
