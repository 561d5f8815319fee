"""Table-driven unit tests of the commerce group (docs/kpis.md#group-commerce)."""

from __future__ import annotations

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
from tests.helpers import ev, samples

START = datetime.fromisoformat("2026-03-05T12:00:00+00:00")  # a checkout's start
T = datetime.fromisoformat("2026-03-10T12:00:00+00:00")  # 30d window: 2026-02-09 .. 03-10
DAY = 86_400
W = 'window="30d"'


def at(seconds: float, base: datetime = START) -> str:
    return (base + timedelta(seconds=seconds)).isoformat()


def checkout(eid: str, ts: str, cid: str = "c1", amount: int = 10_000, **kw: Any) -> bytes:
    kw.setdefault("currency", "USD")
    return ev("checkout_started", eid=eid, ts=ts, checkout_id=cid, amount=amount, **kw)


def order(
    eid: str, ts: str, oid: str = "o1", cid: str | None = None, amount: int = 10_000, **kw: Any
) -> bytes:
    kw.setdefault("currency", "USD")
    if cid is not None:
        kw["checkout_id"] = cid
    return ev("order_placed", eid=eid, ts=ts, order_id=oid, amount=amount, **kw)


def core_of(events: list[bytes], **settings: Any) -> PartitionCore:
    core = PartitionCore(KpiSettings(**settings))
    for raw in events:
        outcome, detail = core.ingest(raw)
        assert outcome is not Outcome.REJECTED, detail
    return core


def commerce(core: PartitionCore, as_of: datetime = T, cur: str = "USD") -> dict[str, float]:
    """The commerce samples under short names."""
    s = samples(render([core], as_of))
    return {
        "started": s[f"cs_checkouts_started{{{W}}}"],
        "judged": s[f"cs_checkouts_judged{{{W}}}"],
        "abandoned": s[f"cs_checkouts_abandoned{{{W}}}"],
        "orders": s[f"cs_orders{{{W}}}"],
        "sales": s[f'cs_sales{{currency="{cur}",{W}}}'],
        "1+": s['cs_ordering_accounts{orders="1+"}'],
        "2+": s['cs_ordering_accounts{orders="2+"}'],
    }


def nonzero(events: list[bytes], as_of: datetime = T, **settings: Any) -> dict[str, float]:
    return {k: v for k, v in commerce(core_of(events, **settings), as_of).items() if v}


CHECKOUT = checkout("s", at(0))
ONE_ORDER = {"orders": 1, "sales": 100.0, "1+": 1}

JUDGING = [
    pytest.param(
        [CHECKOUT, order("o", at(DAY), cid="c1")],
        {"started": 1, "judged": 1, **ONE_ORDER},
        id="converted-at-exactly-86400s",
    ),
    pytest.param(
        [CHECKOUT, order("o", at(DAY + 1), cid="c1")],
        {"started": 1, "judged": 1, "abandoned": 1, **ONE_ORDER},
        id="order-one-second-later-is-abandoned",
    ),
    pytest.param(
        [order("o", at(-600), cid="c1"), CHECKOUT],
        {"started": 1, "judged": 1, **ONE_ORDER},
        id="order-before-its-checkout-event-converts",
    ),
    pytest.param(
        [CHECKOUT],
        {"started": 1, "judged": 1, "abandoned": 1},
        id="no-order-abandoned",
    ),
    pytest.param(
        [CHECKOUT, order("o", at(60), cid="other")],
        {"started": 1, "judged": 1, "abandoned": 1, **ONE_ORDER},
        id="order-of-another-checkout",
    ),
    pytest.param(
        [CHECKOUT, order("o", at(60), cid="c1", account="beta")],
        {"started": 1, "judged": 1, "abandoned": 1, **ONE_ORDER},
        id="order-of-another-account",
    ),
    pytest.param(
        # the repeated order_id carries the checkout, but only the first copy counts
        [CHECKOUT, order("o1", at(-60)), order("o2", at(60), cid="c1")],
        {"started": 1, "judged": 1, "abandoned": 1, **ONE_ORDER},
        id="repeated-order-id-ignored-by-conversion",
    ),
    pytest.param(
        # the same ts: the smaller event_id is the first, and it carries the checkout
        [CHECKOUT, order("b", at(60)), order("a", at(60), cid="c1")],
        {"started": 1, "judged": 1, **ONE_ORDER},
        id="repeated-order-id-same-ts-event-id-decides",
    ),
    pytest.param(
        [order("o", at(60), cid="c1"), checkout("late", at(0))],
        {"started": 1, "judged": 1, **ONE_ORDER},
        id="late-checkout-started-after-its-order",
    ),
    pytest.param(
        # a second checkout_started of the same id does not restart the checkout
        [CHECKOUT, checkout("again", at(2 * DAY)), order("o", at(2 * DAY + 60), cid="c1")],
        {"started": 1, "judged": 1, "abandoned": 1, **ONE_ORDER},
        id="repeated-checkout-id-keeps-the-first-start",
    ),
    pytest.param(
        # a late copy with an earlier ts becomes the start: the order is then too late
        [CHECKOUT, order("o", at(DAY), cid="c1"), checkout("early", at(-60))],
        {"started": 1, "judged": 1, "abandoned": 1, **ONE_ORDER},
        id="late-repeated-checkout-with-earlier-ts-moves-the-start",
    ),
    pytest.param(
        [checkout("s", at(-31 * DAY))],
        {},
        id="checkout-before-the-window",
    ),
]


@pytest.mark.parametrize(("events", "expected"), JUDGING)
def test_checkout_judging(events: list[bytes], expected: dict[str, float]) -> None:
    assert nonzero(events) == expected
    assert nonzero(list(reversed(events))) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (DAY - 1, {"started": 1}),
        (DAY, {"started": 1, "judged": 1, "abandoned": 1}),
        (-1, {}),  # T before the start: nothing started yet
    ],
)
def test_judged_only_once_the_delay_has_passed(seconds: int, expected: dict[str, int]) -> None:
    assert nonzero([CHECKOUT], START + timedelta(seconds=seconds)) == expected


def test_an_open_checkout_converted_before_t_is_not_open() -> None:
    core = core_of([CHECKOUT, checkout("s2", at(10), cid="c2"), order("o", at(60), cid="c1")])
    view = core.describe("acme", START + timedelta(hours=1))
    assert view is not None
    assert view["commerce"]["open_checkouts"] == ["c2"]
    assert nonzero([CHECKOUT], START + timedelta(hours=1)) == {"started": 1}


def test_the_abandonment_delay_is_a_setting() -> None:
    events = [CHECKOUT, order("o", at(3600), cid="c1")]
    as_of = START + timedelta(minutes=30)
    assert nonzero(events, as_of, checkout_abandon_s=1800) == {
        "started": 1,
        "judged": 1,
        "abandoned": 1,
    }
    assert nonzero(events, T, checkout_abandon_s=3600) == {"started": 1, "judged": 1, **ONE_ORDER}


def test_orders_sales_and_repeat_purchases() -> None:
    events = [
        order("1", "2026-03-01T08:00:00Z", "o1", amount=4_900),
        order("2", "2026-03-02T08:00:00Z", "o2", amount=10_000),
        order("3", "2026-03-02T09:00:00Z", "o2", amount=99_999),  # repeated order_id
        order("4", "2026-01-02T08:00:00Z", "o1", amount=1, account="b"),  # before the window
        order("5", "2026-03-03T08:00:00Z", "o9", amount=2_500, account="c"),
        order("6", "2026-03-11T08:00:00Z", "o8", amount=7_000, account="c"),  # after T
    ]
    assert nonzero(events) == {"orders": 3, "sales": 174.0, "1+": 3, "2+": 1}
    # as of the 11th, c has two orders too
    later = T + timedelta(days=1)
    assert nonzero(events, later) == {"orders": 4, "sales": 244.0, "1+": 3, "2+": 2}


def test_sales_in_other_currencies_are_converted_at_read_time() -> None:
    events = [
        order("1", "2026-03-01T08:00:00Z", "o1", amount=10_000, currency="EUR"),
        order("2", "2026-03-01T09:00:00Z", "o2", amount=250),
    ]
    assert nonzero(events, fx_rates="EUR=1.08")["sales"] == 110.5
    assert nonzero(events, fx_rates="EUR=1.1")["sales"] == 112.5
    as_eur = commerce(core_of(events, currency="EUR", fx_rates="USD=0.5"), cur="EUR")
    assert as_eur["sales"] == 101.25


@pytest.mark.parametrize("kind", ["checkout", "order"])
def test_unknown_currency_is_rejected(kind: str) -> None:
    core = PartitionCore(KpiSettings())
    raw = (checkout if kind == "checkout" else order)("x", at(0), currency="JPY")
    outcome, detail = core.ingest(raw)
    assert outcome is Outcome.REJECTED
    assert isinstance(detail, Rejection) and detail.reason == "currency"


def test_commerce_events_make_their_account_known() -> None:
    s = samples(render([core_of([CHECKOUT, order("o", at(1), account="b")])], T))
    assert s['cs_accounts{status="trial"}'] == 2


def test_describe_shows_orders_and_open_and_abandoned_checkouts() -> None:
    events = [
        checkout("s1", at(0), "c1"),
        checkout("s2", at(10), "c2"),
        order("o1", at(60), "o1", cid="c1", amount=4_900),
        order("o2", at(-40 * DAY), "o0", amount=100),  # before the window
        checkout("s3", at(4 * DAY), "c3"),  # still open at T (started < 1 day before)
        checkout("s4", at(4 * DAY + 10), "c4"),
        order("o4", at(4 * DAY + 20), "o4", cid="c4", amount=1_000),
    ]
    view = core_of(events).describe("acme", T + timedelta(hours=-12))
    assert view is not None
    assert view["commerce"] == {
        "currency": "USD",
        "orders": 3,
        "sales": 60.0,
        "window": "30d",
        "orders_window": 2,
        "sales_window": 59.0,
        "open_checkouts": ["c3"],
        "abandoned_checkouts_window": ["c2"],
    }


# -- arrival order, duplicates and recovery -------------------------------------------


def random_events(rng: random.Random, n: int) -> list[bytes]:
    base = datetime.fromisoformat("2026-01-20T00:00:00+00:00")
    out: list[bytes] = []
    for i in range(n):
        account = f"a{rng.randrange(4)}"
        ts = at(rng.randrange(50 * DAY), base)
        cid = f"c{rng.randrange(8)}"
        if rng.random() < 0.5:
            out.append(checkout(f"e{i}", ts, cid, rng.randrange(1, 9999), account=account))
        else:
            out.append(
                order(
                    f"e{i}",
                    ts,
                    f"o{rng.randrange(10)}",
                    cid if rng.random() < 0.7 else None,
                    rng.randrange(1, 9999),
                    account=account,
                    currency=rng.choice(("USD", "EUR")),
                )
            )
    return out


def mine(core: PartitionCore, as_of: datetime) -> dict[str, float]:
    prefixes = ("cs_checkouts_", "cs_orders", "cs_sales", "cs_ordering_accounts")
    return {k: v for k, v in samples(render([core], as_of)).items() if k.startswith(prefixes)}


AS_OFS = [T - timedelta(days=d, hours=h) for d in (0, 12) for h in (0, 7)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 60), dups=st.integers(0, 15))
def test_arrival_order_and_duplicates_give_the_same_exposition(
    seed: int, n: int, dups: int
) -> None:
    rng = random.Random(seed)
    events = random_events(rng, n)
    expected_core = core_of(events, fx_rates="EUR=1.08")
    noisy = events + [rng.choice(events) for _ in range(dups)]
    rng.shuffle(noisy)
    shuffled = PartitionCore(KpiSettings(fx_rates="EUR=1.08"))
    for raw in noisy:
        shuffled.ingest(raw)
    for as_of in AS_OFS:
        assert mine(shuffled, as_of) == mine(expected_core, as_of)
    # (the core forgets event ids beyond its dedupe horizon; order and checkout ids make
    # even such a late copy count once here)
    for account in expected_core.accounts:
        view, want = shuffled.describe(account, T), expected_core.describe(account, T)
        assert view is not None and want is not None
        assert view["commerce"] == want["commerce"]


def test_dump_load_round_trip_through_take_dirty() -> None:
    events = random_events(random.Random(3), 300)
    live = core_of(events, fx_rates="EUR=1.08")
    restored = PartitionCore(KpiSettings(fx_rates="EUR=1.08"))
    for name, record in live.take_dirty():
        restored.load_key(name, orjson.loads(orjson.dumps(record)))
    for as_of in AS_OFS:
        got = mine(restored, as_of)
        assert got == mine(live, as_of)
    assert got['cs_ordering_accounts{orders="2+"}'] > 0
    assert got[f"cs_checkouts_judged{{{W}}}"] > 0
    more = [order("x1", at(0), "new", cid="c1"), checkout("x2", at(1), "c1")]
    for raw in more:
        live.ingest(raw)
        restored.ingest(raw)
    assert mine(restored, T) == mine(live, T)


def test_old_checkouts_are_pruned_and_ignored() -> None:
    core = core_of([checkout("old", "2025-09-01T00:00:00Z", "c0"), checkout("new", at(0), "c1")])
    state = core.accounts["acme"].groups["commerce"]
    assert list(state.checkouts) == ["c1"]
    core.ingest(checkout("older", "2025-08-01T00:00:00Z", "c2"))
    assert list(state.checkouts) == ["c1"]


def test_abandonment_delay_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert KpiSettings().checkout_abandon_s == 86_400
    monkeypatch.setenv("CS_CHECKOUT_ABANDON_S", "3600")
    assert KpiSettings().checkout_abandon_s == 3600
    for bad in ("0", "-5", "an hour", str(31 * DAY)):
        monkeypatch.setenv("CS_CHECKOUT_ABANDON_S", bad)
        with pytest.raises(ValueError):
            KpiSettings()
