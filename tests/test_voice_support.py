"""Table-driven unit tests of the survey and support KPIs (voice, support & health group)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from stream_app.contract import SURVEY_RANGES
from stream_app.exposition import render
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.health import VoiceHealthKpis
from stream_app.settings import KpiSettings
from tests.helpers import ev, samples

T = datetime.fromisoformat("2026-03-10T12:00:00+00:00")
HIST = "cs_ticket_resolution_seconds"
LES = ("300.0", "900.0", "3600.0", "14400.0", "86400.0", "259200.0", "604800.0", "+Inf")


def core_of(events: list[bytes], **settings: object) -> PartitionCore:
    core = PartitionCore(KpiSettings(**settings))  # type: ignore[arg-type]
    for raw in events:
        core.ingest(raw)
    return core


def run(events: list[bytes], as_of: datetime = T, **settings: object) -> dict[str, float]:
    return samples(render([core_of(events, **settings)], as_of))


def survey(eid: str, ts: str, kind: str, score: int, **kw: object) -> bytes:
    return ev("survey_answered", eid=eid, ts=ts, survey=kind, score=score, **kw)


def opened(eid: str, ts: str, ticket: str, channel: str = "email", **kw: object) -> bytes:
    return ev("ticket_opened", eid=eid, ts=ts, ticket_id=ticket, channel=channel, **kw)


def resolved(eid: str, ts: str, ticket: str, contacts: int = 1, **kw: object) -> bytes:
    return ev("ticket_resolved", eid=eid, ts=ts, ticket_id=ticket, contacts=contacts, **kw)


def responses(s: dict[str, float], kind: str, score: int) -> float:
    return s[f'cs_survey_responses{{score="{score}",survey="{kind}",window="90d"}}']


def hist(s: dict[str, float]) -> tuple[list[float], float, float]:
    buckets = [s[f'{HIST}_bucket{{le="{le}"}}'] for le in LES]
    return buckets, s[f"{HIST}_gcount"], s[f"{HIST}_gsum"]


SURVEY_CASES = [
    pytest.param([survey("1", "2026-03-10T08:00:00Z", "nps", 9)], ("nps", 9, 1), id="today"),
    pytest.param(
        [
            survey("1", "2026-03-10T08:00:00Z", "nps", 9),
            survey("1", "2026-03-10T08:00:00Z", "nps", 9),
        ],
        ("nps", 9, 1),
        id="duplicate-counts-once",
    ),
    pytest.param(
        [
            survey("1", "2026-03-10T08:00:00Z", "csat", 4, user_id="a"),
            survey("2", "2026-03-10T09:00:00Z", "csat", 4, user_id="a"),
        ],
        ("csat", 4, 2),
        id="every-answer-counts-not-only-the-latest",
    ),
    pytest.param(
        [survey("1", "2025-12-11T00:00:00Z", "ces", 7)], ("ces", 7, 1), id="first-day-of-90d"
    ),
    pytest.param(
        [survey("1", "2025-12-10T23:59:59Z", "ces", 7)], ("ces", 7, 0), id="day-before-90d"
    ),
    pytest.param(
        [survey("1", "2026-03-10T08:00:00Z", "nps", 11)], ("nps", 10, 0), id="out-of-range-rejected"
    ),
    pytest.param(
        [survey("1", "2026-03-10T08:00:00Z", "nps", 0, account=f"a{i}") for i in range(3)],
        ("nps", 0, 3),
        id="accounts-add-up",
    ),
]


@pytest.mark.parametrize(("events", "expected"), SURVEY_CASES)
def test_survey_responses(events: list[bytes], expected: tuple[str, int, int]) -> None:
    kind, score, n = expected
    s = run(events)
    assert responses(s, kind, score) == n
    total = sum(v for k, v in s.items() if k.startswith("cs_survey_responses{"))
    assert total == n
    assert sum(1 for k in s if k.startswith("cs_survey_responses{")) == 11 + 5 + 7


TICKET_CASES = [
    pytest.param(
        [opened("1", "2026-03-10T08:00:00Z", "t1", "chat")],
        {"chat": 1, "resolved": 0, "fcr": 0},
        id="opened-today",
    ),
    pytest.param(
        [opened("1", "2026-02-09T00:00:00Z", "t1", "phone")],
        {"phone": 1},
        id="first-day-of-30d",
    ),
    pytest.param(
        [opened("1", "2026-02-08T23:59:59Z", "t1", "phone")], {"phone": 0}, id="before-30d"
    ),
    pytest.param(
        [opened("1", "2026-01-20T08:00:00Z", "t1"), resolved("2", "2026-03-01T08:00:00Z", "t1", 3)],
        {"email": 0, "resolved": 1, "fcr": 0},
        id="resolved-in-window-opened-before",
    ),
    pytest.param(
        [
            resolved("2", "2026-03-01T08:00:00Z", "t1", 1),
            resolved("3", "2026-03-02T08:00:00Z", "t2", 2),
        ],
        {"resolved": 2, "fcr": 1},
        id="first-contact-means-one-contact",
    ),
    pytest.param(
        [resolved("2", "2026-02-08T08:00:00Z", "t1", 1)],
        {"resolved": 0, "fcr": 0},
        id="resolution-before-window",
    ),
]


@pytest.mark.parametrize(("events", "expected"), TICKET_CASES)
def test_ticket_counts(events: list[bytes], expected: dict[str, int]) -> None:
    s = run(events)
    for name, value in expected.items():
        if name == "resolved":
            assert s['cs_tickets_resolved{window="30d"}'] == value
        elif name == "fcr":
            assert s['cs_tickets_resolved_first_contact{window="30d"}'] == value
        else:
            assert s[f'cs_tickets_opened{{channel="{name}",window="30d"}}'] == value


RESOLUTION_CASES = [
    pytest.param(
        [opened("1", "2026-03-10T08:00:00Z", "t"), resolved("2", "2026-03-10T08:05:00Z", "t")],
        ([1, 1, 1, 1, 1, 1, 1, 1], 1, 300.0),
        id="exactly-300s-is-le-300",
    ),
    pytest.param(
        [opened("1", "2026-03-10T08:00:00Z", "t"), resolved("2", "2026-03-10T08:05:00.5Z", "t")],
        ([0, 1, 1, 1, 1, 1, 1, 1], 1, 300.5),
        id="just-over-300s",
    ),
    pytest.param(
        [opened("1", "2026-03-01T08:00:00Z", "t"), resolved("2", "2026-03-09T08:00:01Z", "t")],
        ([0, 0, 0, 0, 0, 0, 0, 1], 1, 8 * 86400.0 + 1),
        id="over-a-week-is-only-inf",
    ),
    pytest.param(
        [resolved("2", "2026-03-10T08:05:00Z", "t")],
        ([0] * 8, 0, 0.0),
        id="opening-unknown-not-timed",
    ),
    pytest.param(
        [opened("1", "2026-03-10T09:00:00Z", "t"), resolved("2", "2026-03-10T08:00:00Z", "t")],
        ([0] * 8, 0, 0.0),
        id="resolution-before-opening-not-timed",
    ),
    pytest.param(
        [
            opened("1", "2026-03-02T08:00:00Z", "t"),
            resolved("2", "2026-03-02T09:00:00Z", "t"),
            opened("3", "2026-03-05T08:00:00Z", "t"),
            resolved("4", "2026-03-05T08:10:00Z", "t", 2),
        ],
        ([0, 1, 2, 2, 2, 2, 2, 2], 2, 3600.0 + 600.0),
        id="reopened-ticket-timed-from-its-latest-opening",
    ),
    pytest.param(
        [opened("1", "2026-01-01T08:00:00Z", "t"), resolved("2", "2026-02-08T08:00:00Z", "t")],
        ([0] * 8, 0, 0.0),
        id="resolved-before-window-not-counted",
    ),
    pytest.param(
        [
            opened("1", "2026-03-10T08:00:00Z", "t", account="a"),
            resolved("2", "2026-03-10T09:00:00Z", "t", account="b"),
        ],
        ([0] * 8, 0, 0.0),
        id="tickets-belong-to-their-account",
    ),
]


@pytest.mark.parametrize(("events", "expected"), RESOLUTION_CASES)
def test_resolution_histogram(events: list[bytes], expected: tuple[list[int], int, float]) -> None:
    buckets, count, total = hist(run(events))
    assert (buckets, count) == (expected[0], expected[1])
    assert total == pytest.approx(expected[2])


def test_ticket_opened_beyond_retention_is_forgotten() -> None:
    events = [
        opened("1", "2025-12-01T08:00:00Z", "old"),
        opened("2", "2026-03-01T08:00:00Z", "new"),
        resolved("3", "2026-03-02T08:00:00Z", "old"),
    ]
    _, count, _ = hist(run(events, ticket_retention_days=60))
    assert count == 0  # the opening is more than 60 days before the account's latest event
    _, count, total = hist(run(events, ticket_retention_days=120))
    assert (count, total) == (1, 91 * 86400.0)


def mixed_events(n: int = 400, seed: int = 3, span_days: int = 27) -> list[bytes]:
    """Surveys, tickets and sessions of six accounts over ``span_days`` days up to Feb 28."""
    rng = random.Random(seed)
    end = datetime.fromisoformat("2026-02-28T00:00:00+00:00")
    out: list[bytes] = []
    for i in range(n):
        account = f"a{rng.randrange(6)}"
        when = end - timedelta(days=rng.randrange(span_days), minutes=rng.randrange(1440))
        ts = when.isoformat()
        kind = rng.randrange(4)
        ticket = f"t{rng.randrange(12)}"
        if kind == 0:
            s = rng.choice(("nps", "csat", "ces"))
            low, high = SURVEY_RANGES[s]
            user = f"u{rng.randrange(4)}"
            out.append(survey(str(i), ts, s, rng.randint(low, high), account=account, user_id=user))
        elif kind == 1:
            out.append(opened(str(i), ts, ticket, rng.choice(("email", "chat")), account=account))
        elif kind == 2:
            out.append(resolved(str(i), ts, ticket, rng.randint(1, 3), account=account))
        else:
            out.append(ev(eid=str(i), ts=ts, account=account, user_id=f"u{rng.randrange(5)}"))
    return out


@pytest.mark.parametrize("span_days", [27, 200])
def test_any_arrival_order_gives_the_same_families_and_state(span_days: int) -> None:
    events = mixed_events(n=600, span_days=span_days)
    as_of = datetime.fromisoformat("2026-03-05T00:00:00+00:00")
    first = core_of(events)
    expected = samples(render([first], as_of))
    states = {a: acct.groups["h"].dump() for a, acct in first.accounts.items()}
    for seed in range(5):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        core = core_of(shuffled)
        assert samples(render([core], as_of)) == expected
        assert {a: acct.groups["h"].dump() for a, acct in core.accounts.items()} == states
    assert expected[f"{HIST}_gcount"] > 10
    assert expected['cs_tickets_resolved{window="30d"}'] > 10


@pytest.mark.parametrize("span_days", [27, 200])
def test_dump_load_attach_gives_the_same_families(span_days: int) -> None:
    events = mixed_events(n=600, seed=9, span_days=span_days)
    live = core_of(events)
    restored = PartitionCore(KpiSettings())
    for account_id, record in live.take_dirty():
        restored.load_account(account_id, record)
    for as_of in ("2026-02-20T00:00:00+00:00", "2026-03-05T00:00:00+00:00"):
        t = datetime.fromisoformat(as_of)
        assert samples(render([restored], t)) == samples(render([live], t))
        for account_id in live.accounts:
            assert restored.describe(account_id, t) == live.describe(account_id, t)
    group = next(g for g in restored.groups if isinstance(g, VoiceHealthKpis))
    live_group = next(g for g in live.groups if isinstance(g, VoiceHealthKpis))
    assert group.support.agg == live_group.support.agg
    assert group.voice.counts == live_group.voice.counts


def test_partition_aggregates_forget_pruned_days() -> None:
    core = core_of(
        [
            opened("1", "2025-10-01T08:00:00Z", "t"),
            resolved("2", "2025-10-01T09:00:00Z", "t"),
            survey("3", "2025-10-01T08:00:00Z", "nps", 3),
            ev(eid="4", ts="2026-03-10T08:00:00Z"),
        ]
    )
    group = next(g for g in core.groups if isinstance(g, VoiceHealthKpis))
    assert not group.support.agg
    assert not group.voice.counts
    assert core.accounts["acme"].groups["h"].tickets == {}


def test_account_view_of_surveys_and_support() -> None:
    core = core_of(
        [
            survey("1", "2026-03-01T08:00:00Z", "nps", 10, user_id="a"),
            survey("2", "2026-03-02T08:00:00Z", "nps", 3, user_id="b"),
            survey("3", "2026-03-02T08:00:00Z", "nps", 8, user_id="c"),
            survey("4", "2026-03-02T08:00:00Z", "csat", 5),
            survey("5", "2026-03-02T08:00:00Z", "ces", 2),
            survey("6", "2026-03-03T08:00:00Z", "ces", 5),
            opened("7", "2026-03-09T08:00:00Z", "t1", "chat"),
            opened("8", "2026-03-09T08:00:00Z", "t2", "phone"),
            resolved("9", "2026-03-09T08:30:00Z", "t2", 1),
        ]
    )
    view = core.describe("acme", T)
    assert view is not None
    assert view["surveys"] == {
        "window": "90d",
        "nps": {"responses": 3, "nps": 0.0},
        "csat": {"responses": 1, "satisfied_share": 1.0},
        "ces": {"responses": 2, "mean": 3.5},
    }
    assert view["support"] == {
        "window": "30d",
        "open_tickets": 1,
        "open_ticket_ids": ["t1"],
        "opened": 2,
        "resolved": 1,
        "resolved_first_contact": 1,
        "mean_resolution_seconds": 1800.0,
    }
