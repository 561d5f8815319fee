"""The account list (``GET /accounts``) on real cores: filters, sorts, default exclusions,
names (latest by ts wins) and facts that agree with each other."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from stream_app.kpi.core import PartitionCore
from stream_app.kpi.settings import KpiSettings
from stream_app.worker.account_list import (
    ListQuery,
    list_accounts,
    merge,
    parse_list_query,
)
from tests.helpers import ev

AS_OF = datetime(2026, 3, 31, 18, 0, tzinfo=UTC)
_ids = iter(range(1_000_000))


def _e(type_: str, day: int, account: str, **fields: Any) -> bytes:
    return ev(
        type_, eid=f"e{next(_ids)}", ts=f"2026-03-{day:02d}T09:00:00Z", account=account, **fields
    )


def sub(day: int, account: str, mrr: int, **kw: Any) -> bytes:
    return _e("subscription_started", day, account, plan="p", mrr=mrr, currency="USD", **kw)


def session(day: int, account: str, user: str = "u1") -> bytes:
    return _e("session_started", day, account, user_id=user)


def account_events() -> Iterator[bytes]:
    # a big paying account, gone quiet, two open tickets, a failed payment, unhappy
    yield sub(1, "big-quiet", 99_900, account_name="Big Quiet Ltd")
    yield session(2, "big-quiet")
    yield _e("ticket_opened", 20, "big-quiet", ticket_id="t1", channel="email")
    yield _e("ticket_opened", 21, "big-quiet", ticket_id="t2", channel="chat")
    yield _e("payment_failed", 25, "big-quiet", amount=999, currency="USD")
    yield _e("survey_answered", 22, "big-quiet", user_id="u1", survey="nps", score=2)
    # a small paying account, active, happy
    yield sub(1, "small-happy", 4_900, account_name="Small Happy")
    for day in range(20, 32):
        yield session(day, "small-happy")
    yield _e("survey_answered", 30, "small-happy", user_id="u1", survey="nps", score=10)
    # a mid paying account, quiet for a while
    yield sub(2, "mid-slipping", 19_900)
    yield session(10, "mid-slipping")
    yield _e("ticket_opened", 28, "mid-slipping", ticket_id="t9", channel="web")
    # an active trial; its name changes (the latest by ts wins, whatever the arrival)
    yield _e("user_signed_up", 25, "trial-active", user_id="u1", account_name="Newer Name")
    yield _e("user_signed_up", 24, "trial-active", user_id="u2", account_name="Older Name")
    yield session(30, "trial-active")
    # an idle trial: signed up, one session 20 days ago
    yield _e("user_signed_up", 5, "trial-idle", user_id="u1")
    yield session(10, "trial-idle")
    # a churned account
    yield sub(1, "gone", 19_900, account_name="Gone Inc")
    yield session(3, "gone")
    yield _e("subscription_cancelled", 15, "gone")


def build_core() -> PartitionCore:
    core = PartitionCore(KpiSettings())
    for raw in account_events():
        outcome, detail = core.ingest(raw, now=AS_OF.timestamp())
        assert outcome.value == "applied", detail
    return core


@pytest.fixture(scope="module")
def core() -> PartitionCore:
    return build_core()


def ids(core: PartitionCore, query: str) -> list[str]:
    parsed = parse_list_query(dict(p.split("=", 1) for p in query.split("&") if p))
    assert isinstance(parsed, ListQuery), parsed
    return [e["account_id"] for e in list_accounts([core], parsed, AS_OF)]


def test_the_fixture_means_what_the_table_says(core: PartitionCore) -> None:
    rows = dict(core.summaries(AS_OF))
    assert {k: (r["status"], r["band"]) for k, r in rows.items()} == {
        "big-quiet": ("paying", "critical"),
        "small-happy": ("paying", "healthy"),
        "mid-slipping": ("paying", "at_risk"),
        "trial-active": ("trial", "healthy"),
        "trial-idle": ("trial", "critical"),
        "gone": ("churned", "churned"),
    }


LIST_CASES = [
    # (query, accounts in order)
    ("", ["big-quiet", "mid-slipping", "trial-active", "small-happy"]),  # score ascending
    ("sort=score", ["big-quiet", "mid-slipping", "trial-active", "small-happy"]),
    # MRR at risk: MRR of at_risk/critical accounts, highest first; then by score
    ("sort=mrr_at_risk", ["big-quiet", "mid-slipping", "trial-active", "small-happy"]),
    ("band=critical", ["big-quiet"]),
    ("band=critical,at_risk", ["big-quiet", "mid-slipping"]),
    ("band=healthy", ["trial-active", "small-happy"]),
    ("status=paying", ["big-quiet", "mid-slipping", "small-happy"]),
    ("status=trial", ["trial-active"]),
    ("status=trial&include=idle_trials", ["trial-idle", "trial-active"]),
    ("min_mrr=100", ["big-quiet", "mid-slipping"]),
    ("min_mrr=49", ["big-quiet", "mid-slipping", "small-happy"]),
    ("min_mrr=999", ["big-quiet"]),
    ("min_mrr=1000", []),
    ("status=paying&min_mrr=100&sort=mrr_at_risk", ["big-quiet", "mid-slipping"]),
    # churned accounts only when asked: by include, by status or by band
    ("include=churned", ["gone", "big-quiet", "mid-slipping", "trial-active", "small-happy"]),
    ("status=churned", ["gone"]),
    ("band=churned", ["gone"]),
    ("include=churned,idle_trials&limit=2", ["gone", "trial-idle"]),
    ("limit=1", ["big-quiet"]),
]


@pytest.mark.parametrize(("query", "expected"), LIST_CASES, ids=[q or "-" for q, _ in LIST_CASES])
def test_filters_and_sorts(core: PartitionCore, query: str, expected: list[str]) -> None:
    assert ids(core, query) == expected


def test_an_entry_has_what_a_cs_person_works_from(core: PartitionCore) -> None:
    parsed = parse_list_query({"include": "churned,idle_trials", "limit": "1000"})
    assert isinstance(parsed, ListQuery)
    entries = {e["account_id"]: e for e in list_accounts([core], parsed, AS_OF)}
    big = entries["big-quiet"]
    assert big["name"] == "Big Quiet Ltd"
    assert (big["status"], big["mrr"], big["currency"]) == ("paying", 999.0, "USD")
    assert big["mrr_at_risk"] == 999.0
    assert big["last_active_day"] == "2026-03-02" and big["days_since_activity"] == 29
    assert big["open_tickets"] == 2
    weakest = [w["component"] for w in big["weakest_components"]]
    assert len(weakest) >= 2 and big["weakest_component"] == weakest[0]
    lost = [w["points_lost"] for w in big["weakest_components"]]
    assert lost == sorted(lost, reverse=True) and lost[0] > 0
    assert entries["trial-active"]["name"] == "Newer Name"  # latest by ts, arrived first
    assert entries["mid-slipping"]["name"] is None
    assert entries["small-happy"]["mrr_at_risk"] == 0.0  # healthy: nothing at risk
    assert entries["trial-idle"]["days_since_activity"] == 21


def test_facts_agree_with_each_other(core: PartitionCore) -> None:
    for account in ("big-quiet", "small-happy", "trial-active", "gone"):
        view = core.describe(account, AS_OF)
        assert view is not None
        facts, support = view["health"]["facts"], view["support"]
        assert facts["open_tickets"] == support["open_tickets"], account
        row = dict(core.summaries(AS_OF))[account]
        assert row["open_tickets"] == support["open_tickets"]
        assert row["status"] == view["subscription"] and row["mrr"] == view["mrr"]
        assert row["last_active_day"] == facts["last_active_day"]
        assert row["name"] == view["name"]


def test_merging_two_workers_keeps_the_order() -> None:
    q = ListQuery(sort="mrr_at_risk", limit=3)
    one = [{"account_id": "a", "mrr_at_risk": 10.0, "score": 50.0}]
    two = [
        {"account_id": "b", "mrr_at_risk": 20.0, "score": 60.0},
        {"account_id": "c", "mrr_at_risk": 10.0, "score": 40.0},
        {"account_id": "d", "mrr_at_risk": 0.0, "score": None},
    ]
    assert [e["account_id"] for e in merge([one, two], q)] == ["b", "c", "a"]
    by_score = merge([one, two], ListQuery(limit=10))
    assert [e["account_id"] for e in by_score] == ["c", "a", "b", "d"]


BAD_QUERIES = [
    ({"band": "purple"}, "band must be one or more of"),
    ({"status": "paying,vip"}, "not 'vip'"),
    ({"min_mrr": "lots"}, "min_mrr must be a number >= 0, not 'lots'"),
    ({"min_mrr": "-5"}, "not '-5'"),
    ({"min_mrr": "nan"}, "not 'nan'"),
    ({"sort": "name"}, "sort must be one of score, mrr_at_risk, not 'name'"),
    ({"include": "everything"}, "not 'everything'"),
    ({"limit": "0"}, "limit must be an integer from 1 to 1000"),
    ({"limit": "1001"}, "not '1001'"),
    ({"local": "yes"}, "local must be 0 or 1"),
    ({"order": "asc"}, "unknown parameter(s) order"),
]


@pytest.mark.parametrize(("query", "message"), BAD_QUERIES)
def test_bad_queries_say_what_is_wrong(query: dict[str, str], message: str) -> None:
    problem = parse_list_query(query)
    assert isinstance(problem, str) and message in problem


def test_names_survive_the_state_record_round_trip(core: PartitionCore) -> None:
    copy = PartitionCore(KpiSettings())
    for key, record in core.take_dirty():
        copy.load_key(key, record)
    assert dict(copy.summaries(AS_OF)) == dict(core.summaries(AS_OF))
