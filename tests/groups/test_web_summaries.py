"""The web group keeps each visitor's sessions as mergeable summaries, not their events:
these tests hold the summaries to an events-based reference (a small one, written here) for
random event sets, arrival orders, duplicates and bridging events, and check that records
written by earlier versions (the visitor's events) still load."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.exposition import render
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.groups.web import group as group_module
from stream_app.kpi.groups.web.group import WebGroup
from stream_app.kpi.groups.web.sessions import (
    CODES,
    LINK_CLICKED,
    PAGE_LEFT,
    PAGE_VIEWED,
    Session,
    add_event,
)
from stream_app.kpi.groups.web.state import WebState, dump, iter_facts, load, unpack
from stream_app.kpi.settings import KpiSettings
from stream_app.timeutil import day_of, from_us

GAP_US = 1800 * 1_000_000
T0 = 1_773_093_600_000_000  # 2026-03-09T22:00:00Z in µs
DATA = Path(__file__).resolve().parent.parent / "data" / "web_records_078865e.json"

# (us, code, event id, a): a = path of a page view, engaged_ms of a page_left, else a name
Ev = tuple[int, int, str, Any]


def reference_sessions(events: list[Ev], gap_us: int) -> list[tuple[Any, ...]]:
    """The sessions of a set of events, from the events (the definition, written plainly):
    sorted by time, a new session wherever the next event is more than the gap after the
    previous one; entry = the page view with the smallest (time, event id, path), exit = the
    largest. Each as :meth:`Session.key`."""
    out: list[tuple[Any, ...]] = []
    run: list[Ev] = []
    for e in sorted(events, key=lambda e: e[0]):
        if run and e[0] - run[-1][0] > gap_us:
            out.append(_summary(run))
            run = []
        run.append(e)
    if run:
        out.append(_summary(run))
    return out


def _summary(run: list[Ev]) -> tuple[Any, ...]:
    views = [(us, eid, a) for us, code, eid, a in run if code == PAGE_VIEWED]
    entry = min(views) if views else (0, "", None)
    exit_ = max(views) if views else (0, "", None)
    return (
        run[0][0],
        run[-1][0],
        len(views),
        sum(1 for e in run if e[1] == LINK_CLICKED),
        sum(e[3] for e in run if e[1] == PAGE_LEFT),
        entry[2],
        entry[0],
        entry[1],
        exit_[2],
        exit_[0],
        exit_[1],
    )


# -- add_event against the reference ----------------------------------------------------
@st.composite
def event_sets(draw: st.DrawFn) -> list[Ev]:
    """Events of one visitor: times in steps around the gap (so that late events bridge
    sessions), equal times, every type; event ids unique."""
    n = draw(st.integers(1, 30))
    out: list[Ev] = []
    for i in range(n):
        minute = draw(st.one_of(st.integers(0, 400), st.sampled_from([0, 29, 30, 31, 60, 90])))
        second = draw(st.sampled_from([0, 0, 1, 59]))
        us = T0 + (minute * 60 + second) * 1_000_000
        code = draw(st.sampled_from([PAGE_VIEWED, PAGE_VIEWED, PAGE_LEFT, 2, LINK_CLICKED, 4]))
        if code == PAGE_VIEWED:
            a: Any = draw(st.sampled_from(["/", "/a", "/b"]))
            eid = draw(st.sampled_from(["x", "y", "z", "w"])) + str(i)
        elif code == PAGE_LEFT:
            a, eid = draw(st.sampled_from([0, 1, 9_999, 65_000])), ""
        else:
            a, eid = "cta", ""
        out.append((us, code, eid, a))
    return out


@settings(max_examples=300, deadline=None)
@given(event_sets(), st.randoms(use_true_random=False), st.lists(st.integers(0, 40)))
def test_summaries_equal_the_sessions_of_the_events(
    events: list[Ev], rnd: random.Random, publish_at: list[int]
) -> None:
    """Any arrival order, with copies (a duplicate the core let through counts again, in
    both), and any batch boundaries: the summaries are the reference sessions, and the
    published figures (added, then taken back when replaced) sum to exactly them."""
    arrivals = [*events, *rnd.choices(events, k=len(events) // 3)]
    rnd.shuffle(arrivals)
    sessions: list[Session] = []
    published: Counter[tuple[Any, ...]] = Counter()  # stands for the day counts

    def publish(removed: list[Session]) -> None:
        for s in removed:
            assert s.published
            published[s.key()] -= 1
        for s in sessions:
            if not s.published:
                published[s.key()] += 1
                s.published = True

    pending: list[Session] = []
    for i, (us, code, eid, a) in enumerate(arrivals):
        before = [s.key() for s in sessions if s.published]
        removed = add_event(sessions, us, code, eid, a, GAP_US)
        # published sessions are never changed in place
        assert sorted(before) == sorted(
            [s.key() for s in sessions if s.published] + [s.key() for s in removed]
        )
        pending += removed
        if i in publish_at:
            publish(pending)
            pending = []
    publish(pending)
    expected = reference_sessions(arrivals, GAP_US)
    assert [s.key() for s in sessions] == expected
    assert +published == Counter(expected)


def test_a_late_event_bridges_two_sessions_and_takes_both_back() -> None:
    sessions: list[Session] = []
    add_event(sessions, T0, PAGE_VIEWED, "a", "/a", GAP_US)
    add_event(sessions, T0 + 2 * GAP_US, PAGE_VIEWED, "c", "/c", GAP_US)
    for s in sessions:
        s.published = True
    first, second = sessions
    removed = add_event(sessions, T0 + GAP_US, PAGE_LEFT, "", 12_000, GAP_US)
    assert removed == [first, second]
    (merged,) = sessions
    assert merged.key() == (
        T0,
        T0 + 2 * GAP_US,
        2,
        0,
        12_000,
        "/a",
        T0,
        "a",
        "/c",
        *(
            T0 + 2 * GAP_US,
            "c",
        ),
    )
    assert not merged.published and first.key()[:2] == (T0, T0)  # the old one unchanged


# -- the group through the core, against the reference -----------------------------------
BASE = datetime(2026, 3, 8, 22, 0, tzinfo=UTC)


@st.composite
def web_events(draw: st.DrawFn) -> list[bytes]:
    n = draw(st.integers(1, 30))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from([*CODES, "page_viewed"]))
        visitor = draw(st.sampled_from(["v1", "v2", "v3"]))
        minute = draw(st.one_of(st.integers(0, 3000), st.sampled_from([0, 29, 30, 31, 60])))
        second = draw(st.sampled_from([0, 0, 1, 59]))
        body: dict[str, Any] = {
            "event_id": draw(st.sampled_from(["p", "q", "r"])) + str(i),
            "type": kind,
            "ts": (BASE + timedelta(minutes=minute, seconds=second)).isoformat(),
            "visitor_id": visitor,
        }
        if kind in ("page_viewed", "page_left"):
            body["path"] = draw(st.sampled_from(["/", "/pricing", "/docs"]))
        if kind == "page_left":
            body["engaged_ms"] = draw(st.sampled_from([0, 9_999, 10_000, 65_000]))
            body["max_scroll_pct"] = draw(st.integers(0, 100))
        elif kind in ("link_shown", "link_clicked"):
            body["link"] = draw(st.sampled_from(["trial", "demo"]))
        elif kind == "visit_survey_answered":
            body["survey"] = "task_completion"
            body["answer"] = draw(st.sampled_from(["yes", "no"]))
        out.append(orjson.dumps(body))
    return out


def _as_ev(raw: bytes) -> tuple[str, Ev]:
    body = orjson.loads(raw)
    us = int(datetime.fromisoformat(body["ts"]).timestamp() * 1_000_000)
    code = CODES[body["type"]]
    a = {0: body.get("path"), 1: body.get("engaged_ms")}.get(code, "")
    return body["visitor_id"], (us, code, body["event_id"] if code == PAGE_VIEWED else "", a)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    web_events(),
    st.randoms(use_true_random=False),
    st.lists(st.integers(0, 40)),
    st.sampled_from([1, 2, group_module.HOT_VISITORS]),
)
def test_each_visitor_state_and_the_day_counts_equal_the_reference(
    events: list[bytes], rnd: random.Random, cuts: list[int], hot: int
) -> None:
    """... with batch boundaries anywhere, and visitors settled early (past ``hot``
    changed visitors, the one changed least recently is settled and packed at once)."""
    arrivals = [*events, *rnd.choices(events, k=len(events) // 2)]  # copies: deduplicated
    rnd.shuffle(arrivals)
    core = PartitionCore(KpiSettings())
    group = core.group("web")
    assert isinstance(group, WebGroup)
    group.hot_visitors = hot
    for i, raw in enumerate(arrivals):
        core.ingest(raw)
        if i in cuts:
            core.settle()
    core.settle()
    by_visitor: dict[str, list[Ev]] = {}
    for raw in events:
        visitor, ev = _as_ev(raw)
        by_visitor.setdefault(visitor, []).append(ev)
    sessions: Counter[int] = Counter()
    entries: Counter[tuple[str, int]] = Counter()
    for visitor, evs in by_visitor.items():
        state = core.state("visitor_id", visitor).groups["web"]
        assert state.packed is not None  # settled
        unpack(state)
        expected = reference_sessions(evs, GAP_US)
        assert [s.key() for s in state.sessions] == expected
        assert all(s.published for s in state.sessions)
        # one fact per event, on its day
        facts = Counter((day, code) for _i, day, code, _a, _b in iter_facts(state.facts))
        assert facts == Counter((day_of(from_us(us), UTC), code) for us, code, _e, _a in evs)
        for key in expected:
            if key[2]:
                day = day_of(from_us(key[0]), UTC)
                sessions[day] += 1
                entries[(key[5], day)] += 1
    assert +group.buckets.sessions == sessions
    got = Counter(
        {(p, d): n for p, c in group.buckets.entries.by_label.items() for d, n in c.items()}
    )
    assert +got == entries


def test_a_session_reaching_into_the_kept_days_stays_whole_and_out_of_the_windows() -> None:
    """Facts older than the kept days go; a session that started before them and goes on
    into them stays whole (its day is its first event's, earlier than any window)."""
    core = PartitionCore(KpiSettings())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for k in range(0, 36 * 24 * 3):  # one page view every 20 minutes for 36 days
        ts = (start + timedelta(minutes=20 * k)).isoformat()
        body = {"event_id": f"e{k}", "type": "page_viewed", "ts": ts, "visitor_id": "bot"}
        core.ingest(orjson.dumps({**body, "path": "/"}))
    core.settle()
    state = core.state("visitor_id", "bot").groups["web"]
    unpack(state)
    (session,) = state.sessions
    assert session.first_us == int(start.timestamp() * 1_000_000)
    assert session.pageviews == 36 * 24 * 3
    assert len(iter_facts(state.facts)) == 32 * 24 * 3  # days 4 .. 35
    as_of = start + timedelta(days=35, hours=23)
    text = render([core], as_of).decode()
    assert 'cs_web_sessions{window="30d"} 0.0' in text
    assert 'cs_web_pageviews{path="/",window="30d"} 2160.0' in text


# -- stored form ----------------------------------------------------------------------
def test_records_written_by_main_still_load() -> None:
    """Records of 078865e (the web slice as the visitor's events, ``{"e": ...}``) load into
    summaries and give the exposition 078865e gave (tests/data: made by that version)."""
    fixture = json.loads(DATA.read_text())
    core = PartitionCore(KpiSettings())
    for name, record in fixture["records"].items():
        assert "e" in record["g"]["web"]
        core.load_key(name, record)
    core.load_meta(fixture["meta"])
    as_of = datetime.fromisoformat(fixture["as_of"])

    def web_lines(c: PartitionCore) -> list[str]:
        lines = render([c], as_of).decode().splitlines()
        return [x for x in lines if x.startswith(("cs_web_", "cs_visit_survey"))]

    assert web_lines(core) == fixture["web_exposition"]
    state = core.state("visitor_id", "v1").groups["web"]
    unpack(state)
    assert [(s.entry, s.exit, s.pageviews, s.clicks) for s in state.sessions] == [
        ("/", "/pricing", 3, 1),  # the late /docs bridged two sessions
        ("/a", "/b", 2, 0),  # equal ts: the smaller event id enters
    ]
    # written again in this version's form, it loads to the same again
    group = core.group("web")
    assert group is not None
    records = {}
    for name, record in fixture["records"].items():
        visitor = name.partition(":")[2]
        web = group.dump(core.state("visitor_id", visitor).groups["web"])
        assert set(web) == {"s", "f"}
        records[name] = {**record, "g": {"web": web}}
    again = PartitionCore(KpiSettings())
    for name, record in orjson.loads(orjson.dumps(records)).items():
        again.load_key(name, record)
    again.load_meta(core.meta_record())
    assert web_lines(again) == fixture["web_exposition"]


@settings(max_examples=100, deadline=None)
@given(event_sets())
def test_dump_and_load_round_trip(events: list[Ev]) -> None:
    sessions: list[Session] = []
    for us, code, eid, a in events:
        add_event(sessions, us, code, eid, a, GAP_US)
    state = WebState(sessions, [])
    raw = orjson.loads(orjson.dumps(dump(state)))
    loaded = load(raw, GAP_US, lambda us: day_of(from_us(us), UTC))
    assert [s.key() for s in loaded.sessions] == [s.key() for s in sessions]


def test_a_packed_state_refuses_changes_until_unpacked() -> None:
    """Every packed visitor shares one empty ``sessions``/``facts`` list: changing it
    without :func:`unpack` raises instead of reaching every packed visitor."""
    from stream_app.kpi.groups.web.state import WebState, pack, unpack

    state = WebState()
    pack(state)
    with pytest.raises(TypeError, match="without unpack"):
        state.facts.append(1)
    with pytest.raises(TypeError, match="without unpack"):
        state.sessions.extend([])
    unpack(state)
    state.facts.append(1)
    assert state.facts == [1]
