"""Table-driven tests of the usage group's active-days histogram (stickiness over the 30
complete days before T's day) and its retention tables by signup cohort."""

from __future__ import annotations

import random
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.exposition import render
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.groups.usage import activity
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev, samples

T = datetime.fromisoformat("2026-03-10T12:00:00+00:00")  # a Tuesday
BUCKETS = ("1.0", "2.0", "3.0", "5.0", "7.0", "10.0", "15.0", "20.0", "25.0", "30.0", "+Inf")


def run(
    events: list[bytes], as_of: datetime = T, tz: str = "UTC", reads: tuple[datetime, ...] = ()
) -> dict[str, float]:
    """The exposition as of ``as_of``; ``reads`` are earlier reads, each after the first
    half of the events (so late events meet a cached distribution)."""
    core = PartitionCore(KpiSettings(timezone=tz))
    half = len(events) // 2 if reads else len(events)
    for raw in events[:half]:
        core.ingest(raw)
    for at in reads:
        render([core], at)
    for raw in events[half:]:
        core.ingest(raw)
    return samples(render([core], as_of))


def histogram(s: dict[str, float]) -> dict[str, float]:
    """Non-cumulative users per bucket, plus gsum and gcount."""
    out: dict[str, float] = {}
    below = 0.0
    for le in BUCKETS:
        value = s[f'cs_user_active_days_bucket{{le="{le}"}}']
        if value - below:
            out[le] = value - below
        below = value
    out["gsum"] = s["cs_user_active_days_gsum"]
    out["gcount"] = s["cs_user_active_days_gcount"]
    return out


def session(eid: str, ts: str, user: str = "u1", account: str = "acme") -> bytes:
    return ev(eid=eid, ts=ts, user_id=user, account=account)


def signup(eid: str, ts: str, user: str = "u1", account: str = "acme") -> bytes:
    return ev("user_signed_up", eid=eid, ts=ts, user_id=user, account=account)


# T = 2026-03-10 (UTC): the complete days are 2026-02-08 ... 2026-03-09
ACTIVE_DAYS = [
    pytest.param([], {"gsum": 0, "gcount": 0}, id="nothing"),
    pytest.param(
        [session("1", "2026-03-10T08:00:00Z")], {"gsum": 0, "gcount": 0}, id="today-excluded"
    ),
    pytest.param(
        [session("1", "2026-02-08T00:00:00Z"), session("2", "2026-03-09T23:59:59Z")],
        {"2.0": 1, "gsum": 2, "gcount": 1},
        id="first-and-last-complete-day-only",
    ),
    pytest.param(
        [session("1", "2026-02-07T23:59:59Z")], {"gsum": 0, "gcount": 0}, id="day-before-window"
    ),
    pytest.param(
        [session(str(i), f"2026-03-09T{i:02d}:00:00Z") for i in range(5)],
        {"1.0": 1, "gsum": 1, "gcount": 1},
        id="same-day-counts-once",
    ),
    pytest.param(
        [
            session("1", "2026-03-09T08:00:00Z", account="a"),
            session("2", "2026-03-09T08:00:00Z", account="b"),
        ],
        {"1.0": 2, "gsum": 2, "gcount": 2},
        id="same-user-in-two-accounts-is-two-users",
    ),
    pytest.param(
        [session(str(d), f"2026-02-{d:02d}T12:00:00Z") for d in range(8, 29)]
        + [session(f"m{d}", f"2026-03-{d:02d}T12:00:00Z") for d in range(1, 11)],
        {"30.0": 1, "gsum": 30, "gcount": 1},
        id="every-day-is-30-and-today-is-not-31",
    ),
    pytest.param(
        # u1 on 3 days, u2 on 4 (bucket 5), u3 on 11 days (bucket 15)
        [session(f"a{d}", f"2026-03-0{d}T09:00:00Z") for d in (1, 2, 3)]
        + [session(f"b{d}", f"2026-03-0{d}T09:00:00Z", "u2") for d in (1, 3, 5, 7)]
        + [session(f"c{d}", f"2026-02-{d}T09:00:00Z", "u3") for d in range(10, 21)],
        {"3.0": 1, "5.0": 1, "15.0": 1, "gsum": 18, "gcount": 3},
        id="buckets",
    ),
    pytest.param(
        [
            session("1", "2026-03-10T08:00:00Z"),
            session("2", "2026-03-09T08:00:00Z"),  # late: yesterday, after today's event
            session("3", "2026-02-08T08:00:00Z"),  # late: the first complete day
            session("4", "2026-02-07T08:00:00Z"),  # late: before the window
        ],
        {"2.0": 1, "gsum": 2, "gcount": 1},
        id="late-events-mark-their-own-day",
    ),
    pytest.param(
        [ev("invoice_paid", eid="1", ts="2026-03-09T08:00:00Z", amount=100, currency="USD")],
        {"gsum": 0, "gcount": 0},
        id="billing-is-not-activity",
    ),
]


@pytest.mark.parametrize(("events", "expected"), ACTIVE_DAYS)
def test_active_days_histogram(events: list[bytes], expected: dict[str, float]) -> None:
    assert histogram(run(events)) == expected
    # the same events with a read in between: late ones adjust the cached distribution
    assert histogram(run(events, reads=(T,))) == expected
    assert histogram(run(list(reversed(events)), reads=(T,))) == expected


def test_active_days_in_a_non_utc_zone() -> None:
    # Berlin is UTC+1: 2026-03-09T23:30Z is already the 10th (T's day), 2026-02-07T23:30Z
    # is the 8th (the first complete day)
    events = [session("1", "2026-03-09T23:30:00Z"), session("2", "2026-02-07T23:30:00Z")]
    as_of = datetime.fromisoformat("2026-03-10T12:00:00+01:00")
    assert histogram(run(events, as_of, tz="Europe/Berlin")) == {"1.0": 1, "gsum": 1, "gcount": 1}
    assert histogram(run(events, as_of, tz="UTC")) == {"1.0": 1, "gsum": 1, "gcount": 1}
    assert run(events, as_of, tz="UTC")['cs_user_active_days_bucket{le="1.0"}'] == 1


def test_active_days_across_days_and_reads() -> None:
    """Reading day after day (as the worker does) gives what a fresh read gives."""
    rng = random.Random(3)
    events = [
        session(
            str(i),
            f"2026-{rng.choice(['02', '03'])}-{rng.randint(1, 28):02d}T10:00:00Z",
            f"u{rng.randint(1, 9)}",
        )
        for i in range(300)
    ]
    events.sort(key=lambda raw: raw.split(b'"ts":"')[1][:20])
    core = PartitionCore(KpiSettings())
    for i, raw in enumerate(events):
        core.ingest(raw)
        if i % 20 == 0:
            at = datetime.fromisoformat(
                raw.split(b'"ts":"')[1][:20].decode().replace("Z", "+00:00")
            )
            fresh = PartitionCore(KpiSettings())
            for earlier in events[: i + 1]:
                fresh.ingest(earlier)
            assert histogram(samples(render([core], at))) == histogram(samples(render([fresh], at)))


@settings(max_examples=40, deadline=None)
@given(st.permutations(list(range(12))), st.lists(st.integers(0, 11), max_size=4))
def test_arrival_order_and_duplicates(order: list[int], dups: list[int]) -> None:
    base = [
        signup("s1", "2026-01-05T10:00:00Z"),
        signup("s2", "2026-01-12T10:00:00Z", "u2"),
        session("1", "2026-01-13T10:00:00Z"),
        session("2", "2026-01-20T10:00:00Z", "u2"),
        session("3", "2026-02-08T10:00:00Z"),
        session("4", "2026-02-08T11:00:00Z"),
        session("5", "2026-03-09T10:00:00Z", "u2"),
        session("6", "2026-03-10T10:00:00Z", "u3"),
        signup("s3", "2026-03-02T10:00:00Z", "u3", account="other"),
        session("7", "2026-03-03T10:00:00Z", "u3", account="other"),
        signup("s4", "2026-02-23T10:00:00Z", "u4", account="other"),
        session("8", "2026-03-09T10:00:00Z", "u4", account="other"),
    ]
    want = usage_only(run(base))
    shuffled = [base[i] for i in order] + [base[i] for i in dups]
    # (a copy re-sent beyond the dedupe horizon counts again in cs_events_total, by design)
    assert usage_only(run(shuffled, reads=(T,))) == want


def usage_only(s: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in s.items() if k.startswith(("cs_active_", "cs_user_", "cs_cohort"))}


# -- retention by signup cohort --------------------------------------------------------
def cohorts(s: dict[str, float], what: str = "users") -> dict[str, float]:
    """{cohort: members} and {"cohort/k": retained} of the non-zero samples."""
    out: dict[str, float] = {}
    for key, value in s.items():
        if key.startswith(f"cs_cohort_{what}{{") and value:
            out[key.split('"')[1]] = value
        elif key.startswith(f"cs_cohort_retained_{what}{{") and value:
            parts = key.split('"')
            out[f"{parts[1]}/{parts[3]}"] = value
    return out


# T = Tuesday 2026-03-10: T's week starts Monday 2026-03-09; the 12 cohorts are the weeks
# of 2025-12-22 ... 2026-03-09
COHORT_CASES = [
    pytest.param(
        [signup("1", "2026-03-02T00:00:00Z"), session("2", "2026-03-09T00:00:00Z")],
        "UTC",
        {"2026-03-02": 1, "2026-03-02/1": 1},
        id="signup-monday-00-00-retained-in-week-1",
    ),
    pytest.param(
        [signup("1", "2026-03-01T23:59:59Z"), session("2", "2026-03-09T00:00:00Z")],
        "UTC",
        {"2026-02-23": 1, "2026-02-23/2": 1},
        id="signup-sunday-23-59-is-the-week-before",
    ),
    pytest.param(
        # Berlin (UTC+1): Monday 2026-03-02 00:00 is 2026-03-01T23:00Z
        [signup("1", "2026-03-01T23:00:00Z"), signup("2", "2026-03-01T22:59:59Z", "u2")],
        "Europe/Berlin",
        {"2026-03-02": 1, "2026-02-23": 1},
        id="monday-00-00-in-berlin",
    ),
    pytest.param(
        # DST: Berlin moves to UTC+2 on Sunday 2026-03-29; Monday 2026-03-30 00:00 is
        # 2026-03-29T22:00Z, the Sunday 23:30 (local) before it 21:30Z
        [
            signup("1", "2026-03-29T21:30:00Z"),
            session("2", "2026-03-29T22:00:00Z"),
            signup("3", "2026-03-29T22:00:00Z", "u2"),
            session("4", "2026-04-05T21:59:59Z", "u2"),  # Sunday 23:59:59 CEST: week 0
            session("5", "2026-04-05T22:00:00Z", "u2"),  # Monday 00:00 CEST: week 1
        ],
        "Europe/Berlin@2026-04-07T12:00:00+02:00",
        {"2026-03-23": 1, "2026-03-23/1": 1, "2026-03-30": 1, "2026-03-30/1": 1},
        id="dst-week-in-berlin",
    ),
    pytest.param(
        [
            session("2", "2026-02-17T10:00:00Z"),  # week 1 of the cohort of 02-09
            session("3", "2026-03-05T10:00:00Z"),  # week 3
            signup("1", "2026-02-10T10:00:00Z"),  # the signup arrives last
        ],
        "UTC",
        {"2026-02-09": 1, "2026-02-09/1": 1, "2026-02-09/3": 1},
        id="late-signup",
    ),
    pytest.param(
        [
            signup("1", "2026-02-24T10:00:00Z"),
            session("2", "2026-03-03T10:00:00Z"),
            signup("3", "2026-02-10T10:00:00Z"),  # an earlier signup arrives late
        ],
        "UTC",
        {"2026-02-09": 1, "2026-02-09/2": 1, "2026-02-09/3": 1},
        id="earlier-signup-moves-the-user",
    ),
    pytest.param(
        [session("1", "2026-03-03T10:00:00Z"), session("2", "2026-03-09T10:00:00Z")],
        "UTC",
        {},
        id="no-signup-no-cohort",
    ),
    pytest.param(
        [signup("1", "2025-12-21T10:00:00Z"), signup("2", "2025-12-22T10:00:00Z", "u2")],
        "UTC",
        {"2025-12-22": 1},
        id="only-the-12-latest-cohorts",
    ),
    pytest.param(
        [signup("1", "2025-12-22T10:00:00Z"), session("2", "2026-03-09T10:00:00Z")],
        "UTC",
        {"2025-12-22": 1, "2025-12-22/11": 1},
        id="week-11-of-the-oldest-cohort",
    ),
    pytest.param(
        [signup("1", "2026-03-09T10:00:00Z"), session("2", "2026-03-10T11:00:00Z")],
        "UTC",
        {"2026-03-09": 1},
        id="this-weeks-cohort-has-no-week-yet",
    ),
    pytest.param(
        [signup("1", "2026-03-02T10:00:00Z"), session("2", "2026-03-10T13:00:00Z")],
        "UTC",
        {"2026-03-02": 1},
        id="after-t-not-counted",
    ),
]


@pytest.mark.parametrize(("events", "tz", "expected"), COHORT_CASES)  # tz: "zone[@T]"
def test_user_cohorts(events: list[bytes], tz: str, expected: dict[str, float]) -> None:
    tz, _, at = tz.partition("@")  # "zone@T" when T is not the default
    as_of = datetime.fromisoformat(at) if at else T
    core = PartitionCore(KpiSettings(timezone=tz))
    for raw in events:
        core.ingest(raw, until=as_of.timestamp())
    assert cohorts(samples(render([core], as_of))) == expected


def test_only_weeks_started_by_t_are_exported() -> None:
    s = run([])
    cohort_labels = sorted(k.split('"')[1] for k in s if k.startswith("cs_cohort_users{"))
    assert cohort_labels[0] == "2025-12-22" and cohort_labels[-1] == "2026-03-09"
    assert len(cohort_labels) == 12
    weeks = {
        (k.split('"')[1], int(k.split('"')[3]))
        for k in s
        if k.startswith("cs_cohort_retained_users{")
    }
    # the triangle: cohort i (0 = oldest) has weeks 1 ... 11 - i, zeros included
    assert len(weeks) == sum(range(12))
    assert ("2025-12-22", 11) in weeks and ("2026-03-02", 1) in weeks
    assert not any(c == "2026-03-09" for c, _ in weeks)


ACCOUNT_CASES = [
    pytest.param(
        [
            signup("1", "2026-02-10T10:00:00Z", "u1"),
            signup("2", "2026-02-17T10:00:00Z", "u2"),
            session("3", "2026-02-24T10:00:00Z", "u2"),  # week 2 of the account's cohort
        ],
        {"2026-02-09": 1, "2026-02-09/1": 1, "2026-02-09/2": 1},
        id="first-user-sets-the-cohort-any-user-retains",
    ),
    pytest.param(
        [
            signup("1", "2026-02-10T10:00:00Z", "u1"),
            session("2", "2026-02-17T10:00:00Z", "u9"),  # a user without a signup event
        ],
        {"2026-02-09": 1, "2026-02-09/1": 1},
        id="user-without-signup-retains-the-account",
    ),
    pytest.param(
        [
            signup("1", "2026-02-17T10:00:00Z", "u1", account="a"),
            signup("2", "2026-02-17T10:00:00Z", "u1", account="b"),
            session("3", "2026-02-24T10:00:00Z", "u1", account="b"),
            signup("4", "2026-02-10T10:00:00Z", "u2", account="a"),  # late, earlier
        ],
        {"2026-02-09": 1, "2026-02-09/1": 1, "2026-02-16": 1, "2026-02-16/1": 1},
        id="two-accounts-late-earlier-signup",
    ),
]


@pytest.mark.parametrize(("events", "expected"), ACCOUNT_CASES)
def test_account_cohorts(events: list[bytes], expected: dict[str, float]) -> None:
    assert cohorts(run(events), "accounts") == expected
    assert cohorts(run(list(reversed(events))), "accounts") == expected


def test_state_round_trip_and_legacy_records() -> None:
    events = [
        signup("1", "2026-02-10T10:00:00Z"),
        session("2", "2026-02-17T10:00:00Z"),
        session("3", "2026-03-09T10:00:00Z", "u2", account="b"),
    ]
    core = PartitionCore(KpiSettings())
    for raw in events:
        core.ingest(raw)
    before = samples(render([core], T))
    restored = PartitionCore(KpiSettings())
    for name, record in core.take_dirty():
        restored.load_key(name, record)
    assert samples(render([restored], T)) == before
    # a record of the old layout (user -> last active day) still loads
    usage = restored.group("usage")
    assert usage is not None
    legacy = usage.load({"u": {"u1": 20521}, "f": {}})
    assert activity.last_day(legacy.users["u1"]) == 20521


def test_activity_int_stays_small() -> None:
    p = activity.first_seen(20_500)
    for day in range(20_470, 20_520, 3):
        p = activity.mark(p, day)
    p = activity.with_signup(p, activity.week_of(20_470))
    assert p.bit_length() <= 80
    assert activity.days_active(p, 20_490, 20_519) == 10
