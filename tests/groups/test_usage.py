"""Table-driven unit tests of the usage group and the core's bookkeeping."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from stream_app.exposition import render
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev, samples

T = datetime.fromisoformat("2026-03-10T12:00:00+00:00")


def run(events: list[bytes], as_of: datetime = T, tz: str = "UTC") -> dict[str, float]:
    core = PartitionCore(KpiSettings(timezone=tz))
    for raw in events:
        core.ingest(raw)
    return samples(render([core], as_of))


def active(s: dict[str, float], window: str) -> float:
    return s[f'cs_active_users{{window="{window}"}}']


CASES = [
    pytest.param(
        [ev(eid="1", ts="2026-03-10T08:00:00Z")],
        {"1d": 1, "7d": 1, "30d": 1},
        id="one-user-today",
    ),
    pytest.param(
        [ev(eid="1", ts="2026-03-10T08:00:00Z"), ev(eid="2", ts="2026-03-10T09:00:00Z")],
        {"1d": 1, "7d": 1, "30d": 1},
        id="same-user-twice-is-one",
    ),
    pytest.param(
        [
            ev(eid="1", ts="2026-03-10T08:00:00Z", account="a", user_id="u"),
            ev(eid="2", ts="2026-03-10T08:00:00Z", account="b", user_id="u"),
        ],
        {"1d": 2, "7d": 2, "30d": 2},
        id="user-shared-by-two-accounts-is-two-users",
    ),
    pytest.param(
        [ev(eid="1", ts="2026-03-04T00:00:00Z")],
        {"1d": 0, "7d": 1, "30d": 1},
        id="first-day-of-7d-window",
    ),
    pytest.param(
        [ev(eid="1", ts="2026-03-03T23:59:59Z")],
        {"1d": 0, "7d": 0, "30d": 1},
        id="one-second-before-7d-window",
    ),
    pytest.param(
        [ev(eid="1", ts="2026-02-09T00:00:00Z")],
        {"1d": 0, "7d": 0, "30d": 1},
        id="first-day-of-30d-window",
    ),
    pytest.param(
        [ev(eid="1", ts="2026-02-08T23:59:59Z")],
        {"1d": 0, "7d": 0, "30d": 0},
        id="before-30d-window",
    ),
    pytest.param(
        [ev(eid="1", ts="2026-03-10T01:00:00+05:00")],
        {"1d": 0, "7d": 1, "30d": 1},
        id="offset-moves-event-to-previous-utc-day",
    ),
    pytest.param(
        [
            ev(eid="1", ts="2026-03-10T08:00:00Z"),
            ev(eid="1", ts="2026-03-10T08:00:00Z", user_id="u2"),
        ],
        {"1d": 1, "7d": 1, "30d": 1},
        id="duplicate-event-id-counts-once",
    ),
    pytest.param(
        [ev("feature_used", eid="1", ts="2026-03-10T08:00:00Z", feature="api")],
        {"1d": 1, "7d": 1, "30d": 1},
        id="feature-use-is-activity",
    ),
    pytest.param(
        [ev("invoice_paid", eid="1", ts="2026-03-10T08:00:00Z", amount=100, currency="USD")],
        {"1d": 0, "7d": 0, "30d": 0},
        id="billing-event-is-not-activity",
    ),
]


@pytest.mark.parametrize(("events", "expected"), CASES)
def test_active_users(events: list[bytes], expected: dict[str, int]) -> None:
    s = run(events)
    assert {w: active(s, w) for w in expected} == expected


def test_timezone_day_boundary() -> None:
    # 23:30 UTC on the 9th is already the 10th in Berlin (UTC+1 in March).
    events = [ev(eid="1", ts="2026-03-09T23:30:00Z")]
    as_of = datetime.fromisoformat("2026-03-10T12:00:00+01:00")
    assert active(run(events, as_of, tz="Europe/Berlin"), "1d") == 1
    assert active(run(events, as_of, tz="UTC"), "1d") == 0


def test_dst_day_in_new_york() -> None:
    # 2026-03-08 is 23 hours long in New York; 04:59Z is still the 7th there.
    events = [
        ev(eid="1", ts="2026-03-08T04:59:00Z"),
        ev(eid="2", ts="2026-03-08T05:00:00Z", user_id="u2"),
    ]
    as_of = datetime.fromisoformat("2026-03-08T23:00:00-04:00")
    s = run(events, as_of, tz="America/New_York")
    assert active(s, "1d") == 1
    assert active(s, "7d") == 2


def test_out_of_order_arrival_gives_same_numbers() -> None:
    events = [
        ev(
            "feature_used" if i % 3 else "session_started",
            eid=str(i),
            ts=f"2026-03-{1 + i % 10:02d}T{i % 24:02d}:00:00Z",
            account=f"a{i % 4}",
            user_id=f"u{i % 7}",
            **({"feature": f"f{i % 5}"} if i % 3 else {}),
        )
        for i in range(200)
    ]
    in_order = run(events)
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    assert run(shuffled) == in_order
    assert active(in_order, "30d") == 28


def test_feature_users_and_folding() -> None:
    core = PartitionCore(KpiSettings(feature_limit=2))
    for i, name in enumerate(["a", "b", "c", "d", "a"]):
        core.ingest(
            ev("feature_used", eid=str(i), ts="2026-03-10T08:00:00Z", user_id=f"u{i}", feature=name)
        )
    s = samples(render([core], T))
    assert s['cs_feature_users{feature="a",window="7d"}'] == 2
    assert s['cs_feature_users{feature="b",window="30d"}'] == 1
    assert s['cs_feature_users{feature="other",window="7d"}'] == 2
    assert not any('feature="c"' in k for k in s)


REJECTIONS = [
    (b"not json", "invalid_json"),
    (b"\xff\xfe\x00", "invalid_json"),
    (b"[1, 2]", "not_object"),
    (b'"a string"', "not_object"),
    (ev(eid="1", ts="2026-03-10T08:00:00Z", type="session_ended"), "unknown_type"),
    (
        b'{"event_id":"1","ts":"2026-03-10T08:00:00Z","account_id":"a","user_id":"u"}',
        "missing_field",
    ),
    (ev(eid="1", ts="2026-03-10T08:00:00Z", user_id=""), "invalid_field"),
    (ev(eid="1", ts="2026-03-10T08:00:00Z", user_id=12), "invalid_field"),
    (ev(eid="x" * 129, ts="2026-03-10T08:00:00Z"), "invalid_field"),
    (ev("feature_used", eid="1", ts="2026-03-10T08:00:00Z", feature="f" * 65), "invalid_field"),
    (
        ev("invoice_paid", eid="1", ts="2026-03-10T08:00:00Z", amount="100", currency="USD"),
        "invalid_field",
    ),
    (
        ev("invoice_paid", eid="1", ts="2026-03-10T08:00:00Z", amount=-1, currency="USD"),
        "invalid_field",
    ),
    (
        ev("invoice_paid", eid="1", ts="2026-03-10T08:00:00Z", amount=1, currency="usd"),
        "invalid_field",
    ),
    (
        ev("ticket_opened", eid="1", ts="2026-03-10T08:00:00Z", ticket_id="t", channel="fax"),
        "invalid_field",
    ),
    (
        ev("ticket_resolved", eid="1", ts="2026-03-10T08:00:00Z", ticket_id="t", contacts=0),
        "invalid_field",
    ),
    (ev(eid="1", ts="2026-03-10T08:00:00"), "invalid_timestamp"),
    (ev(eid="1", ts="yesterday"), "invalid_timestamp"),
    (ev(eid="1", ts=1773129600), "invalid_timestamp"),
    (
        ev("survey_answered", eid="1", ts="2026-03-10T08:00:00Z", survey="nps", score=11),
        "score_out_of_range",
    ),
    (
        ev("survey_answered", eid="1", ts="2026-03-10T08:00:00Z", survey="csat", score=0),
        "score_out_of_range",
    ),
    (
        ev("survey_answered", eid="1", ts="2026-03-10T08:00:00Z", survey="ces", score=8),
        "score_out_of_range",
    ),
    (ev(eid="1", ts="2026-03-10T08:00:00Z", pad="x" * 2000), "too_large"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTIONS)
def test_each_rejection_reason(raw: bytes, reason: str) -> None:
    core = PartitionCore(KpiSettings(max_message_bytes=1024))
    outcome, _ = core.ingest(raw)
    assert outcome is Outcome.REJECTED
    s = samples(render([core], T))
    assert s[f'cs_events_rejected_total{{reason="{reason}"}}'] == 1
    assert sum(v for k, v in s.items() if k.startswith("cs_events_rejected_total")) == 1


def test_transport_rejections_and_extra_fields() -> None:
    core = PartitionCore(KpiSettings())
    raw = ev(eid="1", ts="2026-03-10T08:00:00Z", unknown_extra={"x": 1})
    assert core.ingest(raw, role="billing", key=b"acme", offset=0)[0] is Outcome.REJECTED
    assert core.ingest(raw, role="product", key=b"other", offset=1)[0] is Outcome.REJECTED
    assert core.ingest(raw, role="product", key=b"acme", offset=2)[0] is Outcome.APPLIED
    assert core.rejected == {"wrong_topic": 1, "key_mismatch": 1}


def test_redelivery_after_restart_is_not_counted_again() -> None:
    settings = KpiSettings()
    first = PartitionCore(settings, partition=3)
    raws = [ev(eid=str(i), ts="2026-03-10T08:00:00Z", user_id=f"u{i}") for i in range(5)]
    for offset, raw in enumerate(raws[:3]):
        first.ingest(raw, role="product", key=b"acme", offset=offset)
    # persisted: the account record, but not the partition meta (crash in between)
    restored = PartitionCore(settings, partition=3)
    for name, record in first.take_dirty():
        restored.load_key(name, record)
    outcomes = [restored.ingest(raw, "product", b"acme", off)[0] for off, raw in enumerate(raws)]
    assert outcomes == [Outcome.REDELIVERED] * 3 + [Outcome.APPLIED] * 2
    assert restored.type_counts["session_started"] == 5
    assert restored.duplicates == 0


def test_replay_as_of_ignores_later_events() -> None:
    core = PartitionCore(KpiSettings())
    until = T.timestamp()
    assert core.ingest(ev(eid="1", ts="2026-03-10T12:00:00Z"), until=until)[0] is Outcome.APPLIED
    assert (
        core.ingest(ev(eid="2", ts="2026-03-10T12:00:01Z", user_id="u2"), until=until)[0]
        is Outcome.LATER
    )
    assert active(samples(render([core], T)), "1d") == 1


def test_dedupe_horizon_is_event_time_days() -> None:
    core = PartitionCore(KpiSettings(dedupe_horizon_days=7))
    core.ingest(ev(eid="old", ts="2026-03-01T08:00:00Z"))
    core.ingest(ev(eid="new", ts="2026-03-10T08:00:00Z"))
    # beyond the horizon the id is forgotten: a re-sent event counts again (documented)
    assert core.ingest(ev(eid="old", ts="2026-03-01T08:00:00Z"))[0] is Outcome.APPLIED
    assert core.ingest(ev(eid="new", ts="2026-03-10T08:00:00Z"))[0] is Outcome.DUPLICATE
