"""Table-driven unit tests of the company group (docs/kpis.md#group-company): acquisition
spend and CAC across currencies, social interactions, eNPS and satisfaction."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.contract import Rejection
from stream_app.exposition import render
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.settings import KpiSettings
from tests.helpers import samples
from tests.rule_formulas import RULES, Exposition, parse_exposition

T = datetime.fromisoformat("2026-03-10T12:00:00+00:00")  # 30d: 02-09 .. 03-10; 90d: from 12-11
NONE: frozenset[tuple[str, str]] = frozenset()


def company(type_: str, eid: str, ts: str, source: str = "src", **fields: Any) -> bytes:
    body = {"event_id": eid, "type": type_, "ts": ts, "source": source, **fields}
    return orjson.dumps(body)


def spend(eid: str, ts: str, category: str, amount: int, currency: str = "USD", **kw: Any) -> bytes:
    return company(
        "spend_recorded", eid, ts, category=category, amount=amount, currency=currency, **kw
    )


def social(eid: str, ts: str, interaction: str, sentiment: str | None = None, **kw: Any) -> bytes:
    if sentiment is not None:
        kw["sentiment"] = sentiment
    return company("social_interaction", eid, ts, interaction=interaction, **kw)


def answer(eid: str, ts: str, survey: str, score: int, **kw: Any) -> bytes:
    return company("employee_survey_answered", eid, ts, survey=survey, score=score, **kw)


def started(eid: str, ts: str, account: str) -> bytes:
    body = {
        "event_id": eid,
        "type": "subscription_started",
        "ts": ts,
        "account_id": account,
        "plan": "pro",
        "mrr": 19_900,
        "currency": "USD",
    }
    return orjson.dumps(body)


def core_of(events: list[bytes], **settings: Any) -> PartitionCore:
    core = PartitionCore(KpiSettings(**settings))
    for raw in events:
        outcome, detail = core.ingest(raw)
        assert outcome is Outcome.APPLIED, detail
    return core


def run(events: list[bytes], as_of: datetime = T, **settings: Any) -> dict[str, float]:
    return samples(render([core_of(events, **settings)], as_of))


def exposition(events: list[bytes], as_of: datetime = T, **settings: Any) -> Exposition:
    return Exposition(parse_exposition(render([core_of(events, **settings)], as_of)))


def spend_of(s: dict[str, float], category: str, window: str, cur: str = "USD") -> float:
    return s[f'cs_acquisition_spend{{category="{category}",currency="{cur}",window="{window}"}}']


SPEND = [
    spend("1", "2026-03-01T08:00:00Z", "marketing", 12_345, source="google-ads"),
    spend("2", "2026-03-02T08:00:00Z", "marketing", 10_000, "EUR", source="linkedin-ads"),
    spend("3", "2026-03-01T00:00:00Z", "salaries", 500_000, "GBP", source="payroll"),
    spend("4", "2026-02-01T00:00:00Z", "overhead", 20_000, source="office"),  # 90d only
    spend("5", "2025-11-01T00:00:00Z", "overhead", 99_999, source="office"),  # in neither
    spend("6", "2026-03-11T00:00:00Z", "marketing", 99_999, source="google-ads"),  # after T
]
RATES = "EUR=1.08,GBP=1.27"


def test_spend_by_category_and_window_across_currencies() -> None:
    s = run(SPEND, fx_rates=RATES)
    assert spend_of(s, "marketing", "30d") == 123.45 + 108.0
    assert spend_of(s, "marketing", "90d") == 123.45 + 108.0
    assert spend_of(s, "salaries", "30d") == 6350.0
    assert spend_of(s, "overhead", "30d") == 0.0
    assert spend_of(s, "overhead", "90d") == 200.0
    # every category and window is exported, in the reporting currency only
    assert len([k for k in s if k.startswith("cs_acquisition_spend{")]) == 6
    # the same events reported in EUR
    eur = run(SPEND, currency="EUR", fx_rates="USD=0.5,GBP=1.2")
    assert spend_of(eur, "marketing", "30d", "EUR") == pytest.approx(61.725 + 100.0)
    assert spend_of(eur, "salaries", "30d", "EUR") == 6000.0


def test_cac_and_clv_to_cac_across_currencies() -> None:
    """CAC = all spend of 30 days / new paying accounts (the revenue group's), in USD."""
    accounts = [started(f"s{i}", "2026-03-03T10:00:00Z", f"a{i}") for i in range(4)]
    e = exposition([*SPEND, *accounts], fx_rates=RATES)
    assert e.total("cs_new_paying_accounts", window="30d") == 4
    (cac,) = RULES["cs:cac_30d"](e).items()
    assert cac[0] == frozenset({("currency", "USD")})
    assert math.isclose(cac[1], (123.45 + 108.0 + 6350.0) / 4)
    # no new paying account: no CAC (never a division by zero)
    assert RULES["cs:cac_30d"](exposition(SPEND, fx_rates=RATES)) == {}


@pytest.mark.parametrize(
    "raw",
    [
        spend("x", "2026-03-01T08:00:00Z", "marketing", 100, "JPY"),
        spend("y", "2026-03-01T08:00:00Z", "salaries", 100, "CHF"),
    ],
)
def test_unknown_spend_currency_is_rejected(raw: bytes) -> None:
    outcome, detail = PartitionCore(KpiSettings(fx_rates=RATES)).ingest(raw)
    assert outcome is Outcome.REJECTED
    assert isinstance(detail, Rejection) and detail.reason == "currency"


SOCIAL = [
    social("1", "2026-03-10T08:00:00Z", "mention", "negative", source="x"),
    social("2", "2026-03-10T09:00:00Z", "mention", "negative", source="linkedin"),
    social("3", "2026-03-10T10:00:00Z", "mention", "positive", source="linkedin"),
    social("4", "2026-03-09T10:00:00Z", "mention", source="linkedin"),  # neutral
    social("5", "2026-03-01T10:00:00Z", "mention", "positive", source="linkedin"),
    social("6", "2026-03-01T10:00:00Z", "mention", "positive", source="x"),
    social("7", "2026-03-01T10:00:00Z", "like", source="x"),
    social("8", "2026-03-10T11:00:00Z", "share", "positive", source="x"),
    social("9", "2026-01-01T10:00:00Z", "mention", "negative", source="x"),  # out of 30d
]


def test_social_interactions_by_kind_sentiment_and_window() -> None:
    s = run(SOCIAL)

    def n(interaction: str, sentiment: str, window: str) -> float:
        key = f'interaction="{interaction}",sentiment="{sentiment}",window="{window}"'
        return s[f"cs_social_interactions{{{key}}}"]

    assert (n("mention", "negative", "1d"), n("mention", "negative", "30d")) == (2, 2)
    assert (n("mention", "positive", "1d"), n("mention", "positive", "30d")) == (1, 3)
    assert (n("mention", "neutral", "1d"), n("mention", "neutral", "30d")) == (0, 1)
    assert (n("like", "neutral", "30d"), n("share", "positive", "1d")) == (1, 1)
    assert len([k for k in s if k.startswith("cs_social_interactions{")]) == 4 * 3 * 2
    # (3 positive - 2 negative) / 6 mentions
    e = exposition(SOCIAL)
    assert RULES["cs:social_net_sentiment_30d:ratio"](e) == {NONE: pytest.approx(1 / 6)}


ENPS = [10, 10, 9, 8, 7, 6, 2]  # 3 promoters, 2 passives, 2 detractors
SATISFACTION = [5, 4, 4, 3, 1]  # 3 of 5 answer 4 or 5


def voice_events() -> list[bytes]:
    out = [
        answer(f"n{i}", f"2026-02-{10 + i:02d}T09:00:00Z", "enps", s, source="engineering")
        for i, s in enumerate(ENPS)
    ]
    out += [
        answer(f"s{i}", f"2026-01-{10 + i:02d}T09:00:00Z", "satisfaction", s, source="support")
        for i, s in enumerate(SATISFACTION)
    ]
    out.append(answer("old", "2025-11-01T09:00:00Z", "enps", 0, source="support"))  # > 90 d
    return out


def test_enps_and_satisfaction_against_hand_computed_values() -> None:
    e = exposition(voice_events())
    assert RULES["cs:enps:score"](e) == {NONE: pytest.approx(100 * (3 - 2) / 7)}
    assert RULES["cs:employee_satisfaction:ratio"](e) == {NONE: pytest.approx(0.6)}
    s = run(voice_events())
    assert s['cs_employee_survey_responses{score="0",survey="enps",window="90d"}'] == 0
    assert s['cs_employee_survey_responses{score="10",survey="enps",window="90d"}'] == 2
    assert len([k for k in s if k.startswith("cs_employee_survey_responses{")]) == 11 + 5


def test_score_out_of_range_is_rejected() -> None:
    core = PartitionCore(KpiSettings())
    for survey, score in (("enps", 11), ("satisfaction", 0), ("satisfaction", 6)):
        outcome, detail = core.ingest(answer("x", "2026-03-01T00:00:00Z", survey, score))
        assert outcome is Outcome.REJECTED
        assert isinstance(detail, Rejection) and detail.reason == "score_out_of_range"


def test_duplicates_count_once_per_source() -> None:
    raw = social("1", "2026-03-10T08:00:00Z", "mention", "negative", source="x")
    core = PartitionCore(KpiSettings())
    assert [core.ingest(raw)[0] for _ in range(3)] == [Outcome.APPLIED, *[Outcome.DUPLICATE] * 2]
    s = samples(render([core], T))
    assert s['cs_social_interactions{interaction="mention",sentiment="negative",window="1d"}'] == 1


def test_days_follow_the_timezone() -> None:
    # 23:30 UTC on the 9th is the 10th in Berlin: today's mention there, yesterday's in UTC
    raw = [social("1", "2026-03-09T23:30:00Z", "mention", "negative")]
    key = 'cs_social_interactions{interaction="mention",sentiment="negative",window="1d"}'
    assert run(raw)[key] == 0
    assert run(raw, timezone="Europe/Berlin")[key] == 1


# -- arrival order, duplicates and recovery -------------------------------------------


def random_events(rng: random.Random, n: int) -> list[bytes]:
    base = datetime.fromisoformat("2025-12-01T00:00:00+00:00")
    out: list[bytes] = []
    for i in range(n):
        ts = (base + timedelta(seconds=rng.randrange(100 * 86_400))).isoformat()
        source = f"s{rng.randrange(3)}"
        kind = rng.randrange(3)
        if kind == 0:
            category = rng.choice(("marketing", "salaries", "overhead"))
            cur = rng.choice(("USD", "EUR"))
            out.append(spend(f"e{i}", ts, category, rng.randrange(1, 10**6), cur, source=source))
        elif kind == 1:
            interaction = rng.choice(("mention", "comment", "share", "like"))
            sentiment = rng.choice((None, "positive", "neutral", "negative"))
            out.append(social(f"e{i}", ts, interaction, sentiment, source=source))
        else:
            survey = rng.choice(("enps", "satisfaction"))
            low, high = (0, 10) if survey == "enps" else (1, 5)
            out.append(answer(f"e{i}", ts, survey, rng.randint(low, high), source=source))
    return out


def recent(events: list[bytes]) -> list[bytes]:
    """The events within 6 days of their source's latest: the core deduplicates copies
    within its horizon (CS_DEDUPE_HORIZON_DAYS, 7) of a key's latest day."""
    parsed = [orjson.loads(raw) for raw in events]
    latest: dict[str, datetime] = {}
    for body in parsed:
        ts = datetime.fromisoformat(body["ts"])
        latest[body["source"]] = max(ts, latest.get(body["source"], ts))
    return [
        raw
        for raw, body in zip(events, parsed, strict=True)
        if datetime.fromisoformat(body["ts"]) >= latest[body["source"]] - timedelta(days=6)
    ]


def mine(core: PartitionCore, as_of: datetime) -> dict[str, float]:
    prefixes = ("cs_acquisition_spend", "cs_social_interactions", "cs_employee_survey")
    return {k: v for k, v in samples(render([core], as_of)).items() if k.startswith(prefixes)}


AS_OFS = [T - timedelta(days=d) for d in (0, 1, 20)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 80), dups=st.integers(0, 20))
def test_arrival_order_and_duplicates_give_the_same_exposition(
    seed: int, n: int, dups: int
) -> None:
    rng = random.Random(seed)
    events = random_events(rng, n)
    expected = PartitionCore(KpiSettings(fx_rates="EUR=1.08"))
    for raw in events:
        expected.ingest(raw)
    noisy = events + [rng.choice(recent(events)) for _ in range(dups)]
    rng.shuffle(noisy)
    shuffled = PartitionCore(KpiSettings(fx_rates="EUR=1.08"))
    for raw in noisy:
        shuffled.ingest(raw)
    for as_of in AS_OFS:
        assert mine(shuffled, as_of) == mine(expected, as_of)
    assert {k: s.groups for k, s in shuffled.keys["source"].items()} == {
        k: s.groups for k, s in expected.keys["source"].items()
    }


def test_dump_load_round_trip_through_take_dirty() -> None:
    events = random_events(random.Random(5), 400)
    live = PartitionCore(KpiSettings(fx_rates="EUR=1.08"))
    for raw in events:
        live.ingest(raw)
    restored = PartitionCore(KpiSettings(fx_rates="EUR=1.08"))
    for name, record in live.take_dirty():
        assert name.startswith("source:")
        restored.load_key(name, orjson.loads(orjson.dumps(record)))
    for as_of in AS_OFS:
        assert mine(restored, as_of) == mine(live, as_of)
    assert sum(mine(live, T).values()) > 0
    more = random_events(random.Random(6), 20)
    for raw in more:
        live.ingest(raw)
        restored.ingest(raw)
    assert mine(restored, T) == mine(live, T)


def test_days_beyond_the_horizon_are_pruned_and_ignored() -> None:
    core = core_of(
        [
            answer("1", "2025-09-01T00:00:00Z", "enps", 9),
            answer("2", "2026-03-01T00:00:00Z", "enps", 9),
        ]
    )
    state = core.state("source", "src").groups["company"]
    assert len(state.surveys) == 1
    core.ingest(answer("3", "2025-08-01T00:00:00Z", "enps", 9))
    assert len(state.surveys) == 1
