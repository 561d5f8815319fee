"""Property-based tests (hypothesis): arrival order never changes the numbers, and hostile
input is accepted or rejected exactly as the contract says, never crashing the core."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.contract import REJECTION_REASONS, Rejection, parse_event
from stream_app.exposition import render
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.settings import KpiSettings
from tests.helpers import samples

T0 = datetime(2026, 5, 1, tzinfo=UTC)
AS_OF = T0 + timedelta(days=40)

ids = st.sampled_from(["a", "b", "c"])
users = st.sampled_from(["u1", "u2", "u3", "u4"])
offsets = st.sampled_from(["+00:00", "+02:00", "-05:00", "+05:30"])
moments = st.integers(min_value=0, max_value=40 * 86400 - 1)


def _ts(seconds: int, offset: str) -> str:
    sign = 1 if offset[0] == "+" else -1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    local = (T0 + timedelta(seconds=seconds)).astimezone().astimezone(UTC) + delta
    return local.replace(tzinfo=None).isoformat() + offset


@st.composite
def valid_event(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "session_started",
                "feature_used",
                "user_signed_up",
                "milestone_reached",
                "referral_sent",
                "subscription_started",
                "subscription_changed",
                "subscription_renewed",
                "subscription_cancelled",
                "invoice_paid",
                "payment_failed",
                "survey_answered",
                "ticket_opened",
                "ticket_resolved",
            ]
        )
    )
    body: dict[str, Any] = {
        "type": kind,
        "ts": _ts(draw(moments), draw(offsets)),
        "account_id": draw(ids),
    }
    if kind in ("session_started", "user_signed_up", "referral_sent"):
        body["user_id"] = draw(users)
    elif kind == "feature_used":
        body |= {"user_id": draw(users), "feature": draw(st.sampled_from(["api", "sso", "x"]))}
    elif kind == "milestone_reached":
        body |= {
            "user_id": draw(users),
            "milestone": draw(st.sampled_from(["activated", "first_value", "proficient"])),
        }
    elif kind.startswith("subscription_") and kind != "subscription_cancelled":
        body |= {"plan": "pro", "mrr": draw(st.integers(0, 100_000)), "currency": "USD"}
    elif kind in ("invoice_paid", "payment_failed"):
        body |= {"amount": draw(st.integers(0, 100_000)), "currency": "USD"}
    elif kind == "survey_answered":
        survey = draw(st.sampled_from(["nps", "csat", "ces"]))
        high = {"nps": 10, "csat": 5, "ces": 7}[survey]
        body |= {
            "user_id": draw(users),
            "survey": survey,
            "score": draw(st.integers(0 if survey == "nps" else 1, high)),
        }
    elif kind == "ticket_opened":
        body |= {"ticket_id": draw(st.sampled_from(["t1", "t2"])), "channel": "chat"}
    elif kind == "ticket_resolved":
        body |= {
            "ticket_id": draw(st.sampled_from(["t1", "t2"])),
            "contacts": draw(st.integers(1, 3)),
        }
    return body


def _run(lines: list[bytes]) -> dict[str, float]:
    core = PartitionCore(KpiSettings(dedupe_horizon_days=60))
    for raw in lines:
        core.ingest(raw)
    return samples(render([core], AS_OF))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_event(), min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_arrival_order_never_changes_the_numbers(
    events: list[dict[str, Any]], rnd: random.Random
) -> None:
    lines = [orjson.dumps({"event_id": f"e{i}", **e}) for i, e in enumerate(events)]
    in_order = sorted(lines, key=lambda raw: parse_event(raw).ts)  # type: ignore[union-attr]
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    assert _run(shuffled) == _run(in_order)


@settings(max_examples=40, deadline=None)
@given(st.lists(valid_event(), min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_duplicates_anywhere_count_once(events: list[dict[str, Any]], rnd: random.Random) -> None:
    lines = [orjson.dumps({"event_id": f"e{i}", **e}) for i, e in enumerate(events)]
    doubled = lines + lines
    rnd.shuffle(doubled)
    once, twice = _run(lines), _run(doubled)
    assert twice.pop("cs_events_duplicate_total") == len(lines)
    once.pop("cs_events_duplicate_total")
    assert twice == once


def _check_never_crashes(raw: bytes) -> None:
    core = PartitionCore(KpiSettings(max_message_bytes=4096))
    outcome, detail = core.ingest(raw, now=AS_OF.timestamp(), future_tolerance_s=300.0)
    if outcome is Outcome.REJECTED:
        assert isinstance(detail, Rejection)
        assert detail.reason in REJECTION_REASONS
    else:
        assert outcome is Outcome.APPLIED
    render([core], AS_OF)  # reads never crash either


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(raw: bytes) -> None:
    _check_never_crashes(raw)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_random_json(value: Any) -> None:
    _check_never_crashes(json.dumps(value, allow_nan=True).encode())


@settings(max_examples=200, deadline=None)
@given(
    valid_event(),
    st.sampled_from(["event_id", "type", "ts", "account_id", "user_id", "score", "mrr"]),
    json_values,
)
def test_one_field_replaced_by_anything(event: dict[str, Any], name: str, value: Any) -> None:
    body = {"event_id": "x", **event}
    if name in body:
        body[name] = value
    _check_never_crashes(json.dumps(body, allow_nan=True).encode())


HOSTILE = [
    b"[" * 100_000 + b"]" * 100_000,  # deep nesting
    b'{"event_id": "' + b"x" * 10_000 + b'"}',  # huge string
    orjson.dumps(
        {
            "event_id": "e",
            "type": "session_started",
            "ts": "2026-06-01T00:00:00",
            "account_id": "a",
            "user_id": "u",
        }
    ),  # naive timestamp
    b'{"event_id":"e","type":"invoice_paid","ts":"2026-06-01T00:00:00Z","account_id":"a","amount":NaN,"currency":"USD"}',
    b'{"event_id":"e","type":"invoice_paid","ts":"2026-06-01T00:00:00Z","account_id":"a","amount":Infinity,"currency":"USD"}',
    b'{"event_id":"e","type":"invoice_paid","ts":"2026-06-01T00:00:00Z","account_id":"a","amount":1e400,"currency":"USD"}',
    b'{"event_id":"e","type":"invoice_paid","ts":"2026-06-01T00:00:00Z","account_id":"a","amount":99999999999999999999999999,"currency":"USD"}',
    b'{"event_id":"e","type":"session_started","ts":"9999-12-31T23:59:59-23:59","account_id":"a","user_id":"u"}',
    b'{"event_id":"e","type":"session_started","ts":"2999-01-01T00:00:00Z","account_id":"a","user_id":"u"}',
    b'{"event_id":"e","type":"session_started","ts":"1999-01-01T00:00:00+23:59","account_id":"a","user_id":"u"}',
    orjson.dumps(
        {
            "event_id": "\u00e9\U0001f600",
            "type": "session_started",
            "ts": "2026-06-01T00:00:00Z",
            "account_id": "\u202e",
            "user_id": "\u0000",
        }
    ),  # unicode; control characters escaped as JSON requires
    b"\xef\xbb\xbf{}",
]


def test_hostile_inputs_are_rejected_or_accepted_per_contract() -> None:
    for raw in HOSTILE:
        _check_never_crashes(raw)
    core = PartitionCore(KpiSettings())
    now = AS_OF.timestamp()
    reasons = [core.ingest(raw, now=now, future_tolerance_s=300.0)[1] for raw in HOSTILE]
    got = [r.reason if isinstance(r, Rejection) else "accepted" for r in reasons]
    assert got[:2] == ["invalid_json", "missing_field"]
    assert got[2] == "invalid_timestamp"
    assert got[3:7] == ["invalid_field"] * 4
    assert got[7:10] == ["invalid_timestamp", "future", "too_late"]
    assert got[10:] == ["accepted", "invalid_json"]
