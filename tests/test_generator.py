"""The simulated SaaS company (stream_app.generator): contract, order, determinism, noise,
churn spike, live continuation and the plausibility of the KPIs it produces."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from itertools import pairwise
from pathlib import Path
from random import Random

import orjson
import pytest

from stream_app.contract import EVENT_TYPES, TYPE_TOPIC, Rejection, parse_event
from stream_app.generator import (
    INVALID_KINDS,
    PLANS,
    GeneratorConfig,
    LiveSimulation,
    encode,
    generate_history,
    topic_role,
    write_jsonl,
)
from stream_app.generator.clock import US_PER_DAY, TsFormatter, make_tz
from stream_app.generator.noise import corrupt
from stream_app.timeutil import to_us

Event = dict[str, object]

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday noon
BASE = GeneratorConfig(seed=7, accounts=100, days=60, end=END)
SMALL = GeneratorConfig(seed=3, accounts=30, days=10, end=END)
TS_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


@cache
def history(cfg: GeneratorConfig) -> tuple[Event, ...]:
    # events are mutable dicts: tests must not modify them
    return tuple(generate_history(cfg))


def ts(event: Event) -> datetime:
    value = event["ts"]
    assert isinstance(value, str)
    return datetime.fromisoformat(value)


def rejected(event: Event) -> Rejection | None:
    result = parse_event(encode(event))
    return result if isinstance(result, Rejection) else None


# --- contract and order -------------------------------------------------------------------


def test_every_event_passes_the_contract() -> None:
    events = history(BASE)
    assert len(events) > 10_000
    failures = [(e, r) for e in events if (r := rejected(e)) is not None]
    assert failures == []


#: contract v1.1 types the simulated company does not emit yet (the web, commerce and
#: company KPI issues add them to the generator and remove them from here)
NOT_YET_SIMULATED: set[str] = set()


def test_every_event_type_occurs() -> None:
    counts = Counter(e["type"] for e in history(BASE))
    assert set(counts) == set(EVENT_TYPES) - NOT_YET_SIMULATED, set(EVENT_TYPES) - set(counts)


def test_ts_ascending_within_window_and_rfc3339_with_offsets() -> None:
    events = history(BASE)
    times = [ts(e) for e in events]
    assert times == sorted(times)
    assert END - timedelta(days=BASE.days) <= times[0] and times[-1] <= END
    assert all(TS_FORMAT.match(str(e["ts"])) for e in events)
    offsets = Counter(str(e["ts"])[-6:] for e in events)
    assert offsets["+00:00"] > 0.7 * len(events)
    assert len(offsets) >= 3  # some producers write local time


def test_ids_unique_and_users_sign_up_once() -> None:
    events = history(BASE)
    assert len({e["event_id"] for e in events}) == len(events)
    signups = Counter(e["user_id"] for e in events if e["type"] == "user_signed_up")
    assert signups and max(signups.values()) == 1


def test_users_act_only_after_signing_up() -> None:
    joined: dict[object, datetime] = {}
    signed_up_in_window = {e["user_id"] for e in history(BASE) if e["type"] == "user_signed_up"}
    for event in history(BASE):
        user = event.get("user_id")
        if event["type"] == "user_signed_up":
            joined[user] = ts(event)
        elif user in signed_up_in_window:
            assert user in joined and ts(event) >= joined[user], event


def test_event_shapes() -> None:
    events = history(BASE)
    prices = {plan.name: plan.mrr for plan in PLANS}
    for event in events:
        kind = event["type"]
        if kind in ("subscription_started", "subscription_changed", "subscription_renewed"):
            assert event["mrr"] == prices[str(event["plan"])] and event["currency"] == "USD"
        elif kind == "feature_used":
            assert event["feature"] in BASE.features
        elif kind == "milestone_reached":
            assert event["milestone"] in BASE.milestones
        elif kind == "subscription_cancelled":
            assert isinstance(event["reason"], str) and event["reason"]
    milestones = Counter(e["milestone"] for e in events if e["type"] == "milestone_reached")
    assert milestones["activated"] > milestones["first_value"] > milestones["proficient"] > 0


def test_tickets_resolve_after_opening_with_contacts() -> None:
    opened: dict[object, datetime] = {}
    resolved = 0
    for event in history(BASE):
        if event["type"] == "ticket_opened":
            opened[event["ticket_id"]] = ts(event)
        elif event["type"] == "ticket_resolved":
            contacts = event["contacts"]
            assert isinstance(contacts, int) and contacts >= 1
            if event["ticket_id"] in opened:
                assert ts(event) >= opened[event["ticket_id"]]
                resolved += 1
    assert resolved > 0.8 * len(opened)
    channels = Counter(e["channel"] for e in history(BASE) if e["type"] == "ticket_opened")
    assert channels.most_common(1)[0][0] == "email" and len(channels) >= 5


@pytest.mark.parametrize("minutes", [0, 60, 120, -300, -480, 330])
def test_ts_formatter_matches_datetime(minutes: int) -> None:
    fmt, tz = TsFormatter(), make_tz(minutes)
    offset = timezone(timedelta(minutes=minutes))
    rng = Random(minutes)
    day = to_us(END) // US_PER_DAY
    for _ in range(300):
        moment = END + timedelta(microseconds=rng.randrange(-(10**11), 10**11))
        expected = moment.astimezone(offset).isoformat(timespec="milliseconds")
        assert fmt(to_us(moment), tz) == expected
        ms = (to_us(moment) - day * US_PER_DAY) // 1_000
        if 0 <= ms < US_PER_DAY // 1_000:  # the same through the per-day fast path
            event: Event = {}
            assert fmt.stamp([(ms, tz, event)], day, 0, 2**62) == [event]
            assert event["ts"] == expected


# --- determinism --------------------------------------------------------------------------


def test_same_config_gives_byte_identical_output() -> None:
    first = [encode(e) for e in generate_history(SMALL)]
    second = [encode(e) for e in generate_history(SMALL)]
    assert first and first == second


@pytest.mark.parametrize(
    "change",
    [{"seed": 4}, {"accounts": 31}, {"end": END + timedelta(hours=1)}],
    ids=["seed", "accounts", "end"],
)
def test_a_different_config_gives_different_output(change: dict[str, object]) -> None:
    base = [encode(e) for e in generate_history(SMALL)]
    other = [encode(e) for e in generate_history(replace(SMALL, **change))]  # type: ignore[arg-type]
    assert base != other


# --- noise: duplicates and invalid events -------------------------------------------------


@pytest.mark.parametrize("ratio", [0.01, 0.1])
def test_duplicate_ratio(ratio: float) -> None:
    clean = history(SMALL)
    noisy = list(generate_history(replace(SMALL, duplicate_ratio=ratio)))
    assert len(noisy) - len(clean) == round(ratio * len(clean))
    first: dict[object, int] = {}
    deduplicated = []
    for position, event in enumerate(noisy):
        if event["event_id"] in first:
            assert event == noisy[first[event["event_id"]]]  # same id, same content, later
        else:
            first[event["event_id"]] = position
            deduplicated.append(event)
    assert deduplicated == list(clean)


@pytest.mark.parametrize("ratio", [0.005, 0.05])
def test_invalid_ratio_events_are_all_rejected(ratio: float) -> None:
    clean = history(SMALL)
    noisy = list(generate_history(replace(SMALL, invalid_ratio=ratio)))
    extra = len(noisy) - len(clean)
    assert extra == round(ratio * len(clean)) > 0
    valid = [e for e in noisy if rejected(e) is None]
    assert valid == list(clean)  # every injected event is rejected, nothing else is
    if ratio >= 0.05:
        reasons = Counter(r.reason for e in noisy if (r := rejected(e)) is not None)
        assert len(reasons) >= 4, reasons


EXPECTED_REASON = {
    "missing_field": "missing_field",
    "score_out_of_range": "score_out_of_range",
    "naive_timestamp": "invalid_timestamp",
    "unknown_type": "unknown_type",
    "number_as_string": "invalid_field",
}


@pytest.mark.parametrize("kind", INVALID_KINDS)
def test_each_invalid_kind_is_rejected_for_every_event_type(kind: str) -> None:
    samples: dict[object, Event] = {}
    for event in history(BASE):
        samples.setdefault(event["type"], event)
    rng = Random(1)
    for base in samples.values():
        for _ in range(5):
            bad = corrupt(rng, base, kind)
            rejection = rejected(bad)
            assert rejection is not None, bad
            assert rejection.reason == EXPECTED_REASON[kind], (bad, rejection)
            assert bad.get("event_id") != base["event_id"]


# --- churn spike --------------------------------------------------------------------------


def test_churn_spike_multiplies_cancellations_in_the_spike_hour() -> None:
    spike = datetime(2026, 11, 4, 15, 0, tzinfo=UTC)
    cfg = replace(BASE, churn_spike_at=spike, churn_spike_hours=1.0, churn_spike_share=0.25)
    events = history(cfg)
    per_hour = Counter(
        ts(e).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        for e in events
        if e["type"] == "subscription_cancelled"
    )
    in_spike = per_hour[spike]
    window_start = END - timedelta(days=cfg.days)
    same_hour_other_days = [
        per_hour[spike + timedelta(days=d)]
        for d in range(-cfg.days, cfg.days)
        if d and window_start <= spike + timedelta(days=d) <= END - timedelta(hours=1)
    ]
    assert len(same_hour_other_days) >= 50
    baseline = sum(same_hour_other_days) / len(same_hour_other_days)
    assert in_spike >= 10 * max(baseline, 0.5)
    paying = {
        e["account_id"]
        for e in events
        if e["type"] in ("subscription_renewed", "subscription_started") and ts(e) < spike
    }
    assert 0.1 * len(paying) <= in_spike <= 0.3 * len(paying)
    reasons = Counter(
        e["reason"] for e in events if e["type"] == "subscription_cancelled" and ts(e) >= spike
    )
    assert reasons.most_common(1)[0][0] == "price_increase"
    # the rest of the company is untouched before the spike
    before = [e for e in events if ts(e) < spike]
    assert before == [e for e in history(BASE) if ts(e) < spike]


# --- live continuation --------------------------------------------------------------------


def live_run(cfg: GeneratorConfig, step: timedelta, count: int) -> list[list[Event]]:
    live = LiveSimulation(cfg)
    assert live.history_end == END
    start = END
    batches = []
    for _ in range(count):
        batches.append(live.events_between(start, start + step))
        start += step
    return batches


def test_live_intervals_are_fresh_in_range_valid_and_deterministic() -> None:
    step = timedelta(minutes=20)
    batches = live_run(BASE, step, 3 * 24 * 3)  # three days
    seen = {e["event_id"] for e in history(BASE)}
    start = END
    total = 0
    for batch in batches:
        times = [ts(e) for e in batch]
        assert times == sorted(times)
        assert all(start <= t < start + step for t in times)
        for event in batch:
            assert event["event_id"] not in seen
            seen.add(event["event_id"])
            assert rejected(event) is None
        start += step
        total += len(batch)
    assert total > 300  # Friday noon to Monday noon: B2B users rest at the weekend
    again = live_run(BASE, step, 3 * 24 * 3)
    assert [[encode(e) for e in b] for b in again] == [[encode(e) for e in b] for b in batches]


SPEND_OR_SOCIAL = ("spend_recorded", "social_interaction")


def test_live_continues_the_same_company() -> None:
    live = [e for batch in live_run(BASE, timedelta(hours=6), 4 * 14) for e in batch]
    # the company's own events (keyed by source) go on too: the same campaigns and networks
    spent = {e["source"] for e in history(BASE) if e["type"] in SPEND_OR_SOCIAL}
    assert {e["source"] for e in live if e["type"] in SPEND_OR_SOCIAL} == spent
    assert {"spend_recorded", "social_interaction", "order_placed"} <= {e["type"] for e in live}
    events = [e for e in (*history(BASE), *live) if "account_id" in e]
    accounts = {e["account_id"] for e in history(BASE) if "account_id" in e}
    assert {e["account_id"] for e in live if "account_id" in e} <= accounts
    state: dict[object, str] = {}  # a cancelled account renews nothing, a paying one never restarts
    for event in (e for e in events if topic_role(e) != "web"):
        kind, account = event["type"], event["account_id"]
        if kind == "subscription_started":
            assert state.get(account) != "paying", event
            state[account] = "paying"
        elif kind in ("subscription_renewed", "subscription_changed", "payment_failed"):
            assert state.get(account) != "cancelled", event
            state[account] = "paying"
        elif kind == "subscription_cancelled":
            assert state.get(account) != "cancelled", event
            state[account] = "cancelled"
    assert Counter(e["type"] for e in live)["subscription_renewed"] > 0


def test_live_honours_a_churn_spike_inside_an_interval() -> None:
    spike = END + timedelta(hours=27)
    live = LiveSimulation(replace(BASE, churn_spike_at=spike))
    events = live.events_between(END, END + timedelta(days=2))
    cancels = [ts(e) for e in events if e["type"] == "subscription_cancelled"]
    in_spike = [t for t in cancels if spike <= t < spike + timedelta(hours=1)]
    assert len(in_spike) >= 10 and len(in_spike) >= 0.8 * len(cancels)


def test_live_rejects_naive_intervals() -> None:
    live = LiveSimulation(SMALL)
    with pytest.raises(ValueError):
        live.events_between(datetime(2026, 11, 21), datetime(2026, 11, 22))


# --- plausibility of the KPIs -------------------------------------------------------------


def test_kpis_are_plausible_for_a_b2b_saas() -> None:
    events = history(BASE)
    day_ago, month_ago = END - timedelta(days=1), END - timedelta(days=30)
    sessions = [(ts(e), e["user_id"]) for e in events if e["type"] == "session_started"]
    dau = {user for t, user in sessions if t >= day_ago}
    mau = {user for t, user in sessions if t >= month_ago}
    assert 0.05 <= len(dau) / len(mau) <= 0.6

    recent = [e for e in events if ts(e) >= month_ago]
    paying = {
        e["account_id"]
        for e in recent
        if e["type"] in ("subscription_started", "subscription_renewed", "invoice_paid")
    }
    cancels = sum(e["type"] == "subscription_cancelled" for e in recent)
    assert 0 < cancels < 0.15 * len(paying)
    assert 0.3 * BASE.accounts <= len(paying) <= 0.9 * BASE.accounts

    scores: dict[str, list[int]] = {"nps": [], "csat": [], "ces": []}
    for event in events:
        if event["type"] == "survey_answered":
            score = event["score"]
            assert isinstance(score, int)
            scores[str(event["survey"])].append(score)
    nps = scores["nps"]
    nps_value = 100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps)
    assert 0 <= nps_value <= 60
    csat = 100 * sum(s >= 4 for s in scores["csat"]) / len(scores["csat"])
    assert 60 <= csat <= 95
    assert 1.5 <= sum(scores["ces"]) / len(scores["ces"]) <= 4.0

    features = Counter(e["feature"] for e in events if e["type"] == "feature_used")
    ranked = [name for name, _ in features.most_common()]
    assert ranked[0] == BASE.features[0] and set(ranked) == set(BASE.features)


# --- writer, routing, config --------------------------------------------------------------


def test_write_jsonl_round_trip(tmp_path: Path) -> None:
    events = history(SMALL)
    path = tmp_path / "events.jsonl"
    assert write_jsonl(iter(events), path) == len(events)
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == list(events)
    assert lines[0] == encode(events[0]) and b": " not in lines[0]


@pytest.mark.parametrize(
    ("event", "role"),
    [
        *[({"type": kind}, role) for kind, role in TYPE_TOPIC.items()],
        ({"type": "app_opened"}, "product"),
        ({"type": 3}, "product"),
        ({}, "product"),
    ],
)
def test_topic_role(event: Event, role: str) -> None:
    assert topic_role(event) == role


@pytest.mark.parametrize(
    "change",
    [
        {"accounts": 0},
        {"days": 0},
        {"end": datetime(2026, 11, 20)},
        {"churn_spike_at": datetime(2026, 11, 20)},
        {"duplicate_ratio": 1.5},
        {"invalid_ratio": -0.1},
        {"users_per_account": (3, 2)},
        {"features": ()},
        {"milestones": ("a", "b")},
    ],
)
def test_config_validation(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        replace(SMALL, **change)  # type: ignore[arg-type]


def test_unset_end_resolves_to_now_truncated() -> None:
    resolved = GeneratorConfig().resolved()
    assert resolved.end is not None and resolved.end.microsecond == 0
    assert abs(resolved.end - datetime.now(UTC)) < timedelta(seconds=5)
    assert resolved.resolved() is resolved


# --- the web site -------------------------------------------------------------------------


def web_by_visitor(events: tuple[Event, ...]) -> dict[object, list[Event]]:
    out: dict[object, list[Event]] = {}
    for event in events:
        if topic_role(event) == "web":
            out.setdefault(event["visitor_id"], []).append(event)
    for visits in out.values():
        visits.sort(key=ts)
    return out


def test_web_visitors_pages_and_sessions_look_real() -> None:
    events = history(BASE)
    views = [e for e in events if e["type"] == "page_viewed"]
    signed_in = [e for e in views if "account_id" in e]
    anonymous = [e for e in views if "account_id" not in e]
    assert signed_in and anonymous
    assert all(str(e["path"]).startswith("/app") and "user_id" in e for e in signed_in)
    assert not any(str(e["path"]).startswith("/app") for e in anonymous)
    gaps: list[float] = []
    across_midnight = left_alone = 0
    for visits in web_by_visitor(events).values():
        for before, after in pairwise(visits):
            gap = (ts(after) - ts(before)).total_seconds()
            gaps.append(gap)
            if (
                gap <= 1800
                and ts(before).astimezone(UTC).date() != ts(after).astimezone(UTC).date()
            ):
                across_midnight += 1
            if gap > 1800 and after["type"] == "page_left":
                left_alone += 1  # a tab left open: a session without a page view
    assert any(1780 <= g <= 1800 for g in gaps) and any(1800 < g <= 1820 for g in gaps)
    assert across_midnight > 0 and left_alone > 0
    kinds = Counter(e["type"] for e in events if topic_role(e) == "web")
    assert kinds["page_viewed"] > kinds["link_shown"] > kinds["link_clicked"] > 0
    assert 0.85 * kinds["page_viewed"] < kinds["page_left"] < kinds["page_viewed"] * 1.01
    surveys = Counter(e["survey"] for e in events if e["type"] == "visit_survey_answered")
    assert surveys["intent"] > 0 and surveys["task_completion"] > 0
    returning = Counter(e["visitor_id"] for e in anonymous)
    assert max(returning.values()) > 1


def test_web_late_events_are_late_in_the_stream_only() -> None:
    clean = history(SMALL)
    noisy = list(generate_history(replace(SMALL, web_late_ratio=0.05)))
    assert sorted(map(encode, noisy)) == sorted(map(encode, clean))  # the same events
    non_web = [e for e in noisy if topic_role(e) != "web"]
    assert non_web == [e for e in clean if topic_role(e) != "web"]  # in the same order
    latest = None
    late = 0
    for event in noisy:
        if latest is not None and ts(event) < latest:
            late += 1
            assert topic_role(event) == "web"
        latest = ts(event) if latest is None else max(latest, ts(event))
    web = sum(topic_role(e) == "web" for e in clean)
    assert 0 < late <= round(0.05 * web)


def test_web_kpis_are_plausible() -> None:
    from stream_app.exposition import render
    from stream_app.kpi.core import PartitionCore
    from stream_app.kpi.settings import KpiSettings
    from tests.helpers import samples

    core = PartitionCore(KpiSettings())
    for event in history(BASE):
        core.ingest(encode(event))
    s = samples(render([core], END))
    sessions = s['cs_web_sessions{window="30d"}']
    assert sessions > 500
    assert 0.2 <= s['cs_web_bounced_sessions{window="30d"}'] / sessions <= 0.55
    assert 1.7 <= s['cs_web_session_pageviews{window="30d"}'] / sessions <= 4
    assert (
        30 <= s["cs_web_time_on_page_seconds_gsum"] / s["cs_web_time_on_page_seconds_gcount"] <= 90
    )
    shown = sum(v for k, v in s.items() if k.startswith("cs_web_link_impressions{"))
    clicked = sum(v for k, v in s.items() if k.startswith("cs_web_link_clicks{"))
    assert 0.04 <= clicked / shown <= 0.12


# --- commerce and the company's own events ------------------------------------------------


def test_checkouts_orders_and_add_ons() -> None:
    events = history(BASE)
    checkouts = {str(e["checkout_id"]): ts(e) for e in events if e["type"] == "checkout_started"}
    orders = [e for e in events if e["type"] == "order_placed"]
    by_id = Counter(str(e["order_id"]) for e in orders)
    assert len(checkouts) >= 30
    # some orders are sent twice (same order_id, another event_id), never more
    assert 0 < sum(n == 2 for n in by_id.values()) < 0.15 * len(by_id)
    assert max(by_id.values()) == 2
    delays: dict[str, timedelta] = {}
    for event in orders:
        checkout = event.get("checkout_id")
        if checkout is not None and checkout in checkouts:
            delays.setdefault(str(checkout), ts(event) - checkouts[str(checkout)])
    day = timedelta(days=1)
    converted = [d for d in delays.values() if d <= day]
    late = [d for d in delays.values() if d > day]
    abandoned = set(checkouts) - set(delays)
    assert converted and late and abandoned  # some of each
    assert all(d > timedelta(0) for d in delays.values())
    assert any(d > timedelta(hours=2) for d in converted)  # converted later the same day
    assert 0.4 <= (len(abandoned) + len(late)) / len(checkouts) <= 0.8
    add_ons = [e for e in orders if "checkout_id" not in e]
    assert len(add_ons) >= 20
    assert all(e["currency"] == "USD" and int(str(e["amount"])) > 0 for e in orders)


def test_spend_daily_campaigns_and_monthly_salaries_and_overhead() -> None:
    spend = [e for e in history(BASE) if e["type"] == "spend_recorded"]
    days = {ts(e).date() for e in spend if e["category"] == "marketing"}
    assert len(days) >= BASE.days - 1  # every day
    monthly = [ts(e) for e in spend if e["category"] in ("salaries", "overhead")]
    assert monthly and all(t.day == 1 for t in monthly)
    assert Counter(e["category"] for e in spend if ts(e).day == 1)["salaries"] == 2  # 2 months
    assert {e["source"] for e in spend if e["category"] == "marketing"} == {
        "google-ads",
        "linkedin-ads",
        "newsletter-sponsoring",
    }


def test_social_interactions_have_a_sentiment_mix() -> None:
    social = [e for e in history(BASE) if e["type"] == "social_interaction"]
    sentiments = Counter(e.get("sentiment") for e in social)
    assert set(sentiments) == {"positive", "neutral", "negative", None}
    assert sentiments["positive"] > sentiments["negative"] > 0
    assert {e["interaction"] for e in social} == {"mention", "comment", "share", "like"}
    assert len({e["source"] for e in social}) == 3


def test_employee_surveys_are_quarterly_per_team() -> None:
    cfg = replace(BASE, days=200)
    answers = [e for e in history(cfg) if e["type"] == "employee_survey_answered"]
    months: dict[object, set[int]] = {}
    for event in answers:
        assert ts(event).day <= 10  # open the first 10 days of the month
        months.setdefault(event["source"], set()).add(ts(event).month)
    assert len(months) == 3
    for team_months in months.values():
        assert all((a - b) % 3 == 0 for a in team_months for b in team_months)
    # every month, some team asks: a 35-day window always holds answers
    assert len({ts(e).month for e in answers}) >= 6
    scores = [int(str(e["score"])) for e in answers if e["survey"] == "enps"]
    enps = 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)
    assert 0 <= enps <= 50


def test_live_speed_runs_the_company_faster_with_wall_clock_ts() -> None:
    """``speed`` (the demo's): one wall-clock hour holds ``speed`` simulated hours of the
    same company, stamped inside that wall-clock hour, in order."""
    hour = timedelta(hours=1)
    real = LiveSimulation(BASE)
    fast = LiveSimulation(BASE, speed=24)
    simulated_day = [
        e for h in range(24) for e in real.events_between(END + h * hour, END + (h + 1) * hour)
    ]
    squeezed = fast.events_between(END, END + hour)
    assert len(squeezed) == len(simulated_day) > 100
    assert [e["type"] for e in squeezed] == [e["type"] for e in simulated_day]
    stamps = [ts(e) for e in squeezed]
    assert stamps == sorted(stamps)
    assert stamps[0] > END and stamps[-1] < END + hour
    with pytest.raises(ValueError, match="speed"):
        LiveSimulation(BASE, speed=0)
