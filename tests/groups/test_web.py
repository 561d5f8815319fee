"""Table-driven unit tests of the web group: sessions, bounce, entry/exit, windows, labels,
persistence, bounded state, and a hypothesis test of arrival order and duplicates."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.exposition import render
from stream_app.kpi.core import HOT_KEYS, REPLAY_HOT_KEYS, Outcome, PartitionCore
from stream_app.kpi.groups.web.group import HOT_VISITORS, WebGroup
from stream_app.kpi.groups.web.sessions import (
    CODES,
    WebEvent,
    build_sessions,
    insert,
    resession,
)
from stream_app.kpi.groups.web.state import WebState, iter_facts, unpack
from stream_app.kpi.settings import KpiSettings
from tests.helpers import samples

T = datetime.fromisoformat("2026-03-10T23:00:00+00:00")
GAP_US = 1800 * 1_000_000


def web(type_: str, *, eid: str, ts: str, visitor: str = "v1", **fields: Any) -> bytes:
    """One web event as message bytes (defaults for the required fields)."""
    body: dict[str, Any] = {"event_id": eid, "type": type_, "ts": ts, "visitor_id": visitor}
    if type_ in ("page_viewed", "page_left"):
        body.setdefault("path", "/")
    if type_ == "page_left":
        body.setdefault("engaged_ms", 0)
        body.setdefault("max_scroll_pct", 0)
    if type_ in ("link_shown", "link_clicked"):
        body.setdefault("link", "cta")
    body.update(fields)
    return orjson.dumps(body)


def pv(eid: str, ts: str, path: str = "/", **kw: Any) -> bytes:
    return web("page_viewed", eid=eid, ts=ts, path=path, **kw)


def left(eid: str, ts: str, engaged_ms: int = 0, scroll: int = 0, **kw: Any) -> bytes:
    return web("page_left", eid=eid, ts=ts, engaged_ms=engaged_ms, max_scroll_pct=scroll, **kw)


def core_of(events: list[bytes], **settings: Any) -> PartitionCore:
    core = PartitionCore(KpiSettings(**settings))
    for raw in events:
        outcome, detail = core.ingest(raw)
        assert outcome in (Outcome.APPLIED, Outcome.DUPLICATE), detail
    return core


def run(events: list[bytes], as_of: datetime = T, **settings: Any) -> dict[str, float]:
    return samples(render([core_of(events, **settings)], as_of))


def web_samples(s: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in s.items() if k.startswith(("cs_web_", "cs_visit_survey"))}


def g(s: dict[str, float], name: str, window: str = "30d", **labels: str) -> float:
    inner = ",".join([*(f'{k}="{v}"' for k, v in sorted(labels.items())), f'window="{window}"'])
    return s.get(f"{name}{{{inner}}}", 0.0)


# -- session building (the pure function) ---------------------------------------------
def _ev(
    sec: int, code: str = "page_viewed", eid: str = "", a: Any = "/", b: Any = None
) -> WebEvent:
    if code == "page_left":
        a, b = (a if isinstance(a, int) else 0), (b or 0)
    return (1_000_000_000_000_000 + sec * 1_000_000, CODES[code], eid, a, b)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([_ev(0), _ev(1800)], [2], id="gap-exactly-1800s-same-session"),
        pytest.param([_ev(0), _ev(1801)], [1, 1], id="gap-1801s-new-session"),
        pytest.param([_ev(0), _ev(1800), _ev(3600)], [3], id="chain-of-gaps-at-the-limit"),
        pytest.param(
            [_ev(0), _ev(100, "page_left"), _ev(1900, "link_shown")],
            [1],
            id="every-type-extends-a-session",
        ),
        pytest.param([_ev(0, "page_left")], [0], id="page-left-only"),
        pytest.param([_ev(0), _ev(5000, "page_left")], [1, 0], id="page-left-alone-later"),
    ],
)
def test_build_sessions(events: list[WebEvent], expected: list[int]) -> None:
    assert [s.pageviews for s in build_sessions(sorted(events), GAP_US)] == expected


def test_equal_timestamps_entry_is_smaller_exit_larger_event_id() -> None:
    events = sorted([_ev(0, eid="b", a="/second"), _ev(0, eid="a", a="/first")])
    (session,) = build_sessions(events, GAP_US)
    assert (session.entry, session.exit) == ("/first", "/second")


@given(
    st.lists(st.integers(0, 20_000), min_size=1, max_size=30),
    st.lists(st.integers(1, 30), max_size=6),
)
def test_incremental_resession_equals_a_full_build(secs: list[int], cuts: list[int]) -> None:
    """Adding events in any number of steps (late ones included) and rebuilding only from
    the earliest added time gives the sessions of a full build."""
    events: list[WebEvent] = []
    sessions: list[Any] = []
    pending = [_ev(s, eid=str(i)) for i, s in enumerate(secs)]
    random.Random(len(secs)).shuffle(pending)
    for cut in [*cuts, len(pending)]:
        step, pending = pending[:cut], pending[cut:]
        if not step:
            continue
        for item in step:
            insert(events, item)
        resession(events, sessions, min(e[0] for e in step), GAP_US)
    full = build_sessions(sorted(events), GAP_US)
    assert [(s.first_us, s.last_us, s.pageviews) for s in sessions] == [
        (s.first_us, s.last_us, s.pageviews) for s in full
    ]


# -- sessions through the core --------------------------------------------------------
SESSION_CASES = [
    pytest.param(
        [pv("1", "2026-03-10T10:00:00Z"), pv("2", "2026-03-10T10:30:00Z")],
        {"sessions": 1, "pages": 2, "bounced": 0},
        id="gap-exactly-1800s",
    ),
    pytest.param(
        [pv("1", "2026-03-10T10:00:00Z"), pv("2", "2026-03-10T10:30:01Z")],
        {"sessions": 2, "pages": 2, "bounced": 2},
        id="gap-1801s",
    ),
    pytest.param(
        [
            pv("1", "2026-03-10T10:00:00Z"),
            pv("2", "2026-03-10T10:50:00Z"),
            pv("3", "2026-03-10T10:25:00Z"),  # late: within the gap of both
        ],
        {"sessions": 1, "pages": 3, "bounced": 0},
        id="late-event-merges-two-sessions",
    ),
    pytest.param(
        [
            pv("1", "2026-03-10T10:00:00Z"),
            pv("2", "2026-03-10T10:50:00Z"),
            web("link_shown", eid="3", ts="2026-03-10T10:25:00Z"),  # late, not a page view
        ],
        {"sessions": 1, "pages": 2, "bounced": 0},
        id="late-non-pageview-merges-two-sessions",
    ),
    pytest.param(
        [left("1", "2026-03-10T10:00:00Z", engaged_ms=20_000)],
        {"sessions": 0, "pages": 0, "bounced": 0},
        id="page-left-only-session-does-not-count",
    ),
    pytest.param(
        [pv("1", "2026-03-10T10:00:00Z"), left("2", "2026-03-10T10:00:09Z", engaged_ms=9_999)],
        {"sessions": 1, "pages": 1, "bounced": 1},
        id="bounce-engaged-9999ms",
    ),
    pytest.param(
        [pv("1", "2026-03-10T10:00:00Z"), left("2", "2026-03-10T10:00:10Z", engaged_ms=10_000)],
        {"sessions": 1, "pages": 1, "bounced": 0},
        id="engaged-10000ms-is-not-a-bounce",
    ),
    pytest.param(
        [
            pv("1", "2026-03-10T10:00:00Z"),
            left("2", "2026-03-10T10:00:05Z", engaged_ms=5_000),
            left("3", "2026-03-10T10:00:12Z", engaged_ms=5_000),
        ],
        {"sessions": 1, "pages": 1, "bounced": 0},
        id="engaged-time-sums-over-page-left-events",
    ),
    pytest.param(
        [pv("1", "2026-03-10T10:00:00Z"), web("link_clicked", eid="2", ts="2026-03-10T10:00:01Z")],
        {"sessions": 1, "pages": 1, "bounced": 0},
        id="a-click-is-not-a-bounce",
    ),
    pytest.param(
        [pv("1", "2026-03-10T10:00:00Z"), web("link_shown", eid="2", ts="2026-03-10T10:00:01Z")],
        {"sessions": 1, "pages": 1, "bounced": 1},
        id="an-impression-does-not-save-a-bounce",
    ),
    pytest.param(
        [pv("1", "2026-03-10T10:00:00Z"), pv("1", "2026-03-10T10:00:00Z")],
        {"sessions": 1, "pages": 1, "bounced": 1},
        id="duplicate-counts-once",
    ),
    pytest.param(
        [
            pv("1", "2026-03-10T10:00:00Z", visitor="a"),
            pv("2", "2026-03-10T10:00:00Z", visitor="b"),
        ],
        {"sessions": 2, "pages": 2, "bounced": 2},
        id="two-visitors-two-sessions",
    ),
]


@pytest.mark.parametrize(("events", "expected"), SESSION_CASES)
def test_sessions(events: list[bytes], expected: dict[str, int]) -> None:
    s = run(events)
    for window in ("1d", "7d", "30d"):
        assert g(s, "cs_web_sessions", window) == expected["sessions"]
        assert g(s, "cs_web_session_pageviews", window) == expected["pages"]
        assert g(s, "cs_web_bounced_sessions", window) == expected["bounced"]


def test_session_day_is_the_day_of_its_first_event_even_across_midnight() -> None:
    events = [
        pv("1", "2026-03-09T23:50:00Z", path="/late"),
        pv("2", "2026-03-10T00:10:00Z", path="/after-midnight"),
    ]
    s = run(events)
    assert g(s, "cs_web_sessions", "1d") == 0  # it belongs to the 9th
    assert g(s, "cs_web_sessions", "7d") == 1
    assert g(s, "cs_web_session_pageviews", "7d") == 2
    # page views count on their own day
    assert g(s, "cs_web_pageviews", "1d", path="/after-midnight") == 1
    assert g(s, "cs_web_pageviews", "1d", path="/late") == 0
    # the timezone decides the day: in Asia/Tokyo both are on the 10th
    s = run(
        events, as_of=datetime.fromisoformat("2026-03-10T23:00:00+09:00"), timezone="Asia/Tokyo"
    )
    assert g(s, "cs_web_sessions", "1d") == 1


ENTRY_EXIT_CASES = [
    pytest.param(
        [pv("1", "2026-03-10T10:00:00Z", "/a"), pv("2", "2026-03-10T10:05:00Z", "/b")],
        ("/a", "/b"),
        id="first-and-last",
    ),
    pytest.param(
        [pv("b", "2026-03-10T10:00:00Z", "/from-b"), pv("a", "2026-03-10T10:00:00Z", "/from-a")],
        ("/from-a", "/from-b"),
        id="equal-ts-smaller-id-enters-larger-id-exits",
    ),
    pytest.param(
        [
            pv("1", "2026-03-10T10:05:00Z", "/b"),
            pv("2", "2026-03-10T10:00:00Z", "/a"),  # late: becomes the entry
            left("3", "2026-03-10T10:06:00Z", path="/c"),  # page_left does not make an exit
        ],
        ("/a", "/b"),
        id="late-entry-and-page-left-ignored",
    ),
    pytest.param(
        [pv("1", "2026-03-10T10:00:00Z", "/only")],
        ("/only", "/only"),
        id="single-page",
    ),
]


@pytest.mark.parametrize(("events", "expected"), ENTRY_EXIT_CASES)
def test_entry_and_exit(events: list[bytes], expected: tuple[str, str]) -> None:
    s = run(events)
    entries = {k: v for k, v in s.items() if k.startswith("cs_web_entries{")}
    exits = {k: v for k, v in s.items() if k.startswith("cs_web_exits{")}
    assert entries == {f'cs_web_entries{{path="{expected[0]}",window="30d"}}': 1.0}
    assert exits == {f'cs_web_exits{{path="{expected[1]}",window="30d"}}': 1.0}


VISITOR_CASES = [
    pytest.param([pv("1", "2026-03-10T08:00:00Z")], (1, 1, 1), id="today"),
    pytest.param([pv("1", "2026-03-04T00:00:00Z")], (0, 1, 1), id="first-day-of-7d"),
    pytest.param([pv("1", "2026-03-03T23:59:59Z")], (0, 0, 1), id="before-7d"),
    pytest.param([pv("1", "2026-02-09T00:00:00Z")], (0, 0, 1), id="first-day-of-30d"),
    pytest.param([pv("1", "2026-02-08T23:59:59Z")], (0, 0, 0), id="before-30d"),
    pytest.param(
        [pv("1", "2026-03-10T08:00:00Z"), pv("2", "2026-03-10T18:00:00Z")], (1, 1, 1), id="once"
    ),
    pytest.param([left("1", "2026-03-10T08:00:00Z")], (0, 0, 0), id="page-left-is-no-visit"),
    pytest.param(
        [
            pv("1", "2026-03-10T08:00:00Z", visitor="a"),
            pv("2", "2026-03-01T08:00:00Z", visitor="b"),
        ],
        (1, 1, 2),
        id="two-visitors",
    ),
]


@pytest.mark.parametrize(("events", "expected"), VISITOR_CASES)
def test_unique_visitors(events: list[bytes], expected: tuple[int, int, int]) -> None:
    s = run(events)
    got = tuple(int(g(s, "cs_web_visitors", w)) for w in ("1d", "7d", "30d"))
    assert got == expected


def test_time_on_page_scroll_and_deep_scrolls() -> None:
    events = [
        left("1", "2026-03-10T10:00:00Z", engaged_ms=5_000, scroll=25),  # le 5, le 25
        left("2", "2026-03-10T10:00:10Z", engaged_ms=5_001, scroll=90),  # le 10, le 90, deep
        left("3", "2026-03-01T10:00:00Z", engaged_ms=2_000_000, scroll=100),  # > 1800 s, deep
        left("4", "2026-02-01T10:00:00Z", engaged_ms=1_000, scroll=100),  # out of 30d window
    ]
    s = run(events)
    top = "cs_web_time_on_page_seconds"
    assert s[f'{top}_bucket{{le="5.0"}}'] == 1
    assert s[f'{top}_bucket{{le="10.0"}}'] == 2
    assert s[f'{top}_bucket{{le="1800.0"}}'] == 2
    assert s[f'{top}_bucket{{le="+Inf"}}'] == 3
    assert s[f"{top}_gcount"] == 3
    assert s[f"{top}_gsum"] == pytest.approx(5 + 5.001 + 2000)
    scroll = "cs_web_scroll_depth_percent"
    assert s[f'{scroll}_bucket{{le="25.0"}}'] == 1
    assert s[f'{scroll}_bucket{{le="75.0"}}'] == 1
    assert s[f'{scroll}_bucket{{le="90.0"}}'] == 2
    assert s[f'{scroll}_bucket{{le="100.0"}}'] == 3
    assert s[f"{scroll}_gsum"] == 215
    assert g(s, "cs_web_deep_scrolls") == 2
    # a custom threshold
    assert g(run(events, web_deep_scroll_pct=100), "cs_web_deep_scrolls") == 1


def test_links_and_surveys() -> None:
    events = [
        web("link_shown", eid="1", ts="2026-03-10T10:00:00Z", link="trial"),
        web("link_shown", eid="2", ts="2026-03-10T10:00:01Z", link="trial"),
        web("link_clicked", eid="3", ts="2026-03-10T10:00:02Z", link="trial"),
        web("link_shown", eid="4", ts="2026-01-10T10:00:02Z", link="old"),  # out of window
        web(
            "visit_survey_answered",
            eid="5",
            ts="2026-03-10T10:00:00Z",
            survey="intent",
            answer="pricing",
        ),
        web(
            "visit_survey_answered",
            eid="6",
            ts="2026-03-10T10:00:00Z",
            survey="task_completion",
            answer="yes",
        ),
    ]
    s = run(events)
    assert g(s, "cs_web_link_impressions", link="trial") == 2
    assert g(s, "cs_web_link_clicks", link="trial") == 1
    assert 'cs_web_link_impressions{link="old",window="30d"}' not in s
    assert g(s, "cs_visit_survey_answers", survey="intent", answer="pricing") == 1
    assert g(s, "cs_visit_survey_answers", survey="task_completion", answer="yes") == 1
    # fixed labels are exported with zeros
    assert s['cs_visit_survey_answers{answer="no",survey="task_completion",window="30d"}'] == 0


def test_bounded_labels_fold_into_other() -> None:
    events = [pv(str(i), "2026-03-10T10:00:00Z", f"/p{i}", visitor=f"v{i}") for i in range(4)]
    events += [
        web("link_shown", eid=f"l{i}", ts="2026-03-10T10:00:00Z", link=f"l{i}") for i in range(3)
    ]
    events += [
        web(
            "visit_survey_answered",
            eid=f"s{i}",
            ts="2026-03-10T10:00:00Z",
            survey="intent",
            answer=f"a{i}",
        )
        for i in range(3)
    ]
    s = run(events, web_path_limit=2, web_link_limit=1, web_answer_limit=2)
    paths = {k for k in s if k.startswith("cs_web_pageviews{") and 'window="30d"' in k}
    assert paths == {
        'cs_web_pageviews{path="/p0",window="30d"}',
        'cs_web_pageviews{path="/p1",window="30d"}',
        'cs_web_pageviews{path="other",window="30d"}',
    }
    assert g(s, "cs_web_pageviews", path="other") == 2
    assert g(s, "cs_web_entries", path="other") == 2
    assert g(s, "cs_web_exits", path="other") == 2
    assert g(s, "cs_web_link_impressions", link="other") == 2
    assert g(s, "cs_visit_survey_answers", survey="intent", answer="other") == 1


def test_contract_rejections_on_the_web_topic() -> None:
    core = PartitionCore(KpiSettings())
    bad_answer = web(
        "visit_survey_answered",
        eid="1",
        ts="2026-03-10T10:00:00Z",
        survey="task_completion",
        answer="maybe",
    )
    assert core.ingest(bad_answer)[1].reason == "invalid_field"  # type: ignore[union-attr]
    outcome, detail = core.ingest(pv("2", "2026-03-10T10:00:00Z"), role="web", key=b"other")
    assert outcome is Outcome.REJECTED and detail.reason == "key_mismatch"  # type: ignore[union-attr]
    outcome, detail = core.ingest(pv("3", "2026-03-10T10:00:00Z"), role="product")
    assert outcome is Outcome.REJECTED and detail.reason == "wrong_topic"  # type: ignore[union-attr]
    assert core.ingest(pv("4", "2026-03-10T10:00:00Z"), role="web", key=b"v1")[0] is Outcome.APPLIED


def test_web_account_id_does_not_make_an_account_known() -> None:
    core = core_of([pv("1", "2026-03-10T10:00:00Z", account_id="acme", user_id="u1")])
    assert core.accounts == {}
    s = samples(render([core], T))
    assert sum(v for k, v in s.items() if k.startswith("cs_accounts{")) == 0
    assert g(s, "cs_web_visitors") == 1


# -- per-visitor view -------------------------------------------------------------------
def test_describe_lists_the_sessions_of_30_days() -> None:
    core = core_of(
        [
            pv("1", "2026-03-10T10:00:00Z", "/a"),
            left("2", "2026-03-10T10:00:30Z", engaged_ms=30_000),
            pv("3", "2026-03-10T10:01:00Z", "/b"),
            pv("4", "2026-03-10T12:00:00Z", "/c"),
            pv("5", "2026-01-01T12:00:00Z", "/old"),
            left("6", "2026-03-09T12:00:00Z"),  # no page view: not a counted session
        ]
    )
    view = core.describe_key("visitor_id", "v1", T)
    assert view is not None
    assert view["sessions_30d"] == 2
    first, second = view["sessions"]
    assert (first["entry"], first["exit"], first["pageviews"]) == ("/a", "/b", 2)
    assert first["engaged_seconds"] == 30 and first["bounced"] is False
    assert (second["entry"], second["exit"], second["bounced"]) == ("/c", "/c", True)
    assert core.describe_key("visitor_id", "nobody", T) is None


# -- persistence and bounded state ------------------------------------------------------
def _restore(core: PartitionCore, records: dict[str, Any] | None = None) -> PartitionCore:
    restored = PartitionCore(KpiSettings())
    for name, record in (records or dict(core.take_dirty())).items():
        if record is not None:
            restored.load_key(name, record)
    restored.load_meta(core.meta_record())
    return restored


def test_dump_load_round_trip_gives_the_same_exposition() -> None:
    events = [raw for case in SESSION_CASES for raw in case.values[0]]  # type: ignore[index]
    events = [
        raw.replace(b'"visitor_id":"v1"', b'"visitor_id":"v%d"' % i) for i, raw in enumerate(events)
    ]
    events += [raw for case in ENTRY_EXIT_CASES for raw in case.values[0]]  # type: ignore[index]
    core = core_of(events)
    before = render([core], T)
    assert render([_restore(core)], T) == before


def _day_number(day: int) -> int:
    """The core's calendar day (days since the epoch, UTC) of ``_day(day)``."""
    return (
        datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day) - datetime(1970, 1, 1, tzinfo=UTC)
    ).days


def _day(day: int, hour: int = 10) -> str:
    return (datetime(2026, 1, 1, hour, tzinfo=UTC) + timedelta(days=day)).isoformat()


def test_old_events_are_dropped_and_idle_visitors_forgotten() -> None:
    core = PartitionCore(KpiSettings())
    for d in range(0, 40):
        core.ingest(pv(f"a{d}", _day(d), visitor="busy"))
    core.ingest(pv("i1", _day(0), visitor="idle"))
    core.settle()
    kept = core.state("visitor_id", "busy").groups["web"]
    assert kept.packed is not None  # settled: kept in its stored form
    unpack(kept)
    # days 8 .. 39: the latest day minus 30 + 1 (the gap), one session and one fact each
    assert len(kept.sessions) == 32
    assert [day for _i, day, _code, _a, _b in iter_facts(kept.facts)] == [
        _day_number(d) for d in range(8, 40)
    ]
    assert not core.holds("visitor_id", "idle")  # 39 days idle: forgotten
    records = dict(core.take_dirty())
    assert records["visitor_id:idle"] is None  # a tombstone
    s = samples(render([core], datetime.fromisoformat(_day(39, 23))))
    assert s['cs_events_total{type="page_viewed"}'] == 41  # forgotten events still counted
    assert g(s, "cs_web_sessions") == 30
    restored = _restore(core, records)
    assert not restored.holds("visitor_id", "idle")
    assert render([restored], datetime.fromisoformat(_day(39, 23))) == render(
        [core], datetime.fromisoformat(_day(39, 23))
    )
    # a late event of a forgotten visitor starts it afresh, out of the windows
    core.ingest(pv("i2", _day(1), visitor="idle"))
    s2 = samples(render([core], datetime.fromisoformat(_day(39, 23))))
    assert web_samples(s2) == web_samples(s)


def test_forgetting_is_order_independent_for_the_windows() -> None:
    events = [pv(f"b{d}", _day(d, 12), visitor="v") for d in range(0, 3)]
    events += [pv("x", _day(45), visitor="w"), pv("y", _day(45, 10), visitor="v")]
    as_of = datetime.fromisoformat(_day(45, 23))
    one = core_of(events)
    other = PartitionCore(KpiSettings())
    for raw in reversed(events):
        other.ingest(raw)
        other.settle()  # a batch per event: forgetting and pruning happen in between
    assert render([one], as_of) == render([other], as_of)


# -- arrival order and duplicates -------------------------------------------------------
BASE_TS = datetime(2026, 3, 8, 22, 0, tzinfo=UTC)
TYPES = [
    "page_viewed",
    "page_viewed",
    "page_left",
    "link_shown",
    "link_clicked",
    "visit_survey_answered",
]


@st.composite
def web_events(draw: st.DrawFn) -> list[bytes]:
    n = draw(st.integers(1, 25))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(TYPES))
        # minutes around two midnights; steps near the 30 min gap are likely
        minute = draw(st.one_of(st.integers(0, 3000), st.sampled_from([0, 30, 60, 90, 120])))
        second = draw(st.sampled_from([0, 0, 1, 59]))
        ts = (BASE_TS + timedelta(minutes=minute, seconds=second)).isoformat()
        visitor = draw(st.sampled_from(["v1", "v2", "v3"]))
        fields: dict[str, Any] = {}
        if kind == "page_viewed":
            fields["path"] = draw(st.sampled_from(["/", "/pricing", "/docs"]))
        elif kind == "page_left":
            fields["engaged_ms"] = draw(st.sampled_from([0, 9_999, 10_000, 65_000]))
            fields["max_scroll_pct"] = draw(st.integers(0, 100))
        elif kind in ("link_shown", "link_clicked"):
            fields["link"] = draw(st.sampled_from(["trial", "demo"]))
        else:
            survey = draw(st.sampled_from(["intent", "task_completion"]))
            fields["survey"] = survey
            fields["answer"] = draw(
                st.sampled_from(["yes", "no"] if survey == "task_completion" else ["buy", "learn"])
            )
        out.append(web(kind, eid=f"e{i}", ts=ts, visitor=visitor, **fields))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(web_events(), st.randoms(use_true_random=False), st.lists(st.integers(0, 24), max_size=8))
def test_any_arrival_order_and_duplicates_give_the_same_exposition(
    events: list[bytes], rnd: random.Random, batch_cuts: list[int]
) -> None:
    as_of = BASE_TS + timedelta(days=3)
    reference = render([core_of(events)], as_of)
    shuffled = [*events, *rnd.choices(events, k=len(events) // 2)]  # copies
    rnd.shuffle(shuffled)
    core = PartitionCore(KpiSettings())
    cuts = set(batch_cuts)
    for i, raw in enumerate(shuffled):
        core.ingest(raw)
        if i in cuts:
            core.settle()  # a batch boundary: sessions rebuilt incrementally from here
            render([core], as_of)  # and a scrape in between
    exposition = render([core], as_of)
    # the duplicates counter differs by design; every KPI family is identical
    strip = [line for line in exposition.splitlines() if b"cs_events_duplicate" not in line]
    ref = [line for line in reference.splitlines() if b"cs_events_duplicate" not in line]
    assert strip == ref
    assert any(line.startswith(b"cs_web_sessions") for line in strip)


def test_group_state_type() -> None:
    assert isinstance(WebGroup(KpiSettings()).new(), WebState)


def test_visitor_view_of_the_worker_api() -> None:
    """``GET /visitors/{id}``'s body (stream_app.worker.api.visitor_view), without a worker."""
    from types import SimpleNamespace

    from stream_app.worker.api import account_view, visitor_view

    recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # the API reads as of now
    core = core_of([pv("1", recent, "/a", visitor="v1")])
    states: Any = SimpleNamespace(cores={0: core})
    status, body = visitor_view(states, 1, "v1", "http://w1")
    assert status == 200
    assert body["visitor_id"] == "v1" and body["served_by"] == "http://w1"
    assert body["events"] == {"page_viewed": 1}
    assert body["sessions_30d"] == len(body["sessions"]) == 1
    assert body["sessions"][0]["entry"] == "/a" and body["sessions"][0]["bounced"] is True
    status, body = visitor_view(states, 1, "nobody", "http://w1")
    assert (status, body["error"]) == (404, "unknown visitor")
    status, body = account_view(states, 1, "v1", "http://w1")  # not an account
    assert (status, body["error"]) == (404, "unknown account")
    status, body = visitor_view(SimpleNamespace(cores={}), 1, "v1", "http://w1")  # type: ignore[arg-type]
    assert status == 503


@pytest.mark.parametrize(
    ("hot_keys", "hot_visitors"),
    [(1, HOT_VISITORS), (HOT_KEYS, HOT_VISITORS), (REPLAY_HOT_KEYS, REPLAY_HOT_KEYS)],
)
def test_the_group_keeps_unpacked_what_the_core_keeps_thawed(
    hot_keys: int, hot_visitors: int
) -> None:
    """The group packs changed visitors past :data:`HOT_VISITORS`, or past the core's bound
    of thawed visitors when that is higher (a replay's): not earlier than the core."""
    web = PartitionCore(KpiSettings(), hot_keys=hot_keys).group("web")
    assert isinstance(web, WebGroup)
    assert web.hot_visitors == hot_visitors


@pytest.mark.parametrize(
    ("order", "packed_early"),
    [
        (["a", "b", "c"], {"a"}),  # the one changed first
        (["a", "b", "a", "c"], {"b"}),  # a changed again: b is the least recently changed
        (["a", "b", "b", "a", "c"], {"b"}),
        (["a", "b", "c", "d"], {"a", "b"}),
    ],
)
def test_past_the_hot_visitors_the_least_recently_changed_is_packed_first(
    order: list[str], packed_early: set[str]
) -> None:
    """Between two settles at most ``HOT_VISITORS`` visitors stay unpacked (what a backlog
    holds at once); past it, the visitor changed least recently is settled and packed, so a
    visitor still in its visit stays unpacked instead of being packed and unpacked again."""
    core = PartitionCore(KpiSettings())
    web = core.group("web")
    assert isinstance(web, WebGroup)
    web.hot_visitors = 2
    for i, visitor in enumerate(order):
        ts = (T + timedelta(minutes=i)).isoformat()
        assert core.ingest(pv(f"e{i}", ts, visitor=visitor))[0] is Outcome.APPLIED
    states = {v: core.state("visitor_id", v).groups["web"] for v in set(order)}
    assert {v for v, s in states.items() if s.packed is not None} == packed_early
    core.settle()
    assert all(s.packed is not None for s in states.values())
    s = samples(render([core], T + timedelta(minutes=10)))
    assert g(s, "cs_web_pageviews", "1d", path="/") == len(order)
    assert g(s, "cs_web_sessions", "1d") == len(states)  # packed early, counted once each


# -- frozen visitors ----------------------------------------------------------------------
def _never_freezing() -> PartitionCore:
    core = PartitionCore(KpiSettings())
    core.freezers.clear()  # the core reads these when it applies and takes records
    core.frozen.clear()
    core.thawed.clear()
    core.changed_keys.clear()
    for route in core._routes.values():
        route.thawed = route.changed_keys = None
        route.frozen = None
    return core


def _indexed(core: PartitionCore) -> set[str]:
    """The visitors in the web group's index by latest day (the thawed ones)."""
    group = core.group("web")
    assert isinstance(group, WebGroup)
    return {k for peers in group.by_latest.values() for k in peers}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    web_events(),
    st.randoms(use_true_random=False),
    st.lists(st.integers(0, 40), max_size=10),
    st.booleans(),
    st.sampled_from([1, 2, 2048]),
)
def test_visitors_frozen_at_any_commit_give_what_never_frozen_ones_give(
    events: list[bytes], rnd: random.Random, commit_cuts: list[int], far: bool, hot: int
) -> None:
    """A worker's core keeps a visitor frozen (one bytes object) once its record is taken,
    or once ``hot`` others were applied since its last event (changed or not), and thaws
    it at its next event: whatever the commit points, the outcomes, the records, the
    exposition, each visitor's view and the state recovered from the records are those of
    a core that never froze one. ``far``: a visitor 45 days later makes the others idle,
    forgotten while frozen."""
    stream = [*events, *rnd.choices(events, k=len(events) // 2)]  # copies
    rnd.shuffle(stream)
    if far:
        stream.append(pv("far", (BASE_TS + timedelta(days=45)).isoformat(), visitor="v9"))
    as_of = BASE_TS + timedelta(days=46 if far else 3)
    reference, core = _never_freezing(), PartitionCore(KpiSettings())
    core.hot_keys = hot
    records: dict[str, Any] = {}
    reference_records: dict[str, Any] = {}
    cuts = set(commit_cuts)
    for offset, raw in enumerate(stream):
        key = orjson.loads(raw)["visitor_id"].encode()
        outcome = reference.ingest(raw, "web", key, offset)[0]
        assert core.ingest(raw, "web", key, offset)[0] is outcome
        assert len(core.keys["visitor_id"]) <= hot  # thawed
        assert _indexed(core) <= set(core.keys["visitor_id"])  # the frozen ones in the store
        if offset in cuts:
            records.update(core.take_dirty())
            reference_records.update(reference.take_dirty())
            assert records == reference_records
            assert not core.keys["visitor_id"]  # all frozen
            assert not _indexed(core)
    assert render([core], as_of) == render([reference], as_of)
    visitors = sorted(reference.keys["visitor_id"])
    assert sorted(k for k, _ in core.key_states("visitor_id")) == visitors
    assert all(core.holds("visitor_id", v) for v in visitors)
    for visitor in visitors:
        assert core.describe_key("visitor_id", visitor, as_of) == reference.describe_key(
            "visitor_id", visitor, as_of
        )
    records.update(core.take_dirty())
    reference_records.update(reference.take_dirty())
    assert records == reference_records
    assert render([_restore(core, records)], as_of) == render([reference], as_of)


def test_a_thawed_visitor_keeps_one_copy_of_its_key() -> None:
    """Thawed by an event, a visitor's key is stored under the event's copy of the string,
    the one the web group's index of visitors by day holds too (not one copy in each);
    frozen, it leaves both (the store of frozen keys holds its UTF-8)."""
    core = PartitionCore(KpiSettings())
    core.ingest(pv("a", T.isoformat(), visitor="v1"), "web", b"v1", 0)
    dict(core.take_dirty())
    assert "v1" in core.frozen["visitor_id"]
    assert not core.keys["visitor_id"] and not _indexed(core)
    for i, ts in enumerate((T + timedelta(minutes=5), T + timedelta(days=1))):  # same day, next
        core.ingest(pv(f"b{i}", ts.isoformat(), visitor="v1"), "web", b"v1", i + 1)
        assert "v1" not in core.frozen["visitor_id"]
        group = core.group("web")
        assert isinstance(group, WebGroup)
        (stored,) = [k for k in core.keys["visitor_id"] if k == "v1"]
        (indexed,) = [k for peers in group.by_latest.values() for k in peers if k == "v1"]
        assert stored is indexed
        dict(core.take_dirty())
        assert "v1" in core.frozen["visitor_id"] and not _indexed(core)


def test_a_visitor_thawed_by_a_redelivered_event_is_frozen_again() -> None:
    """After a restart whose partition offsets are behind a visitor's (the worker died
    between writing the key and the meta), the visitor's own offset refuses the copy: it
    was thawed to tell, and is frozen again by the next commit though unchanged."""
    core = PartitionCore(KpiSettings())
    raw = pv("a", T.isoformat(), visitor="v1")
    assert core.ingest(raw, "web", b"v1", 0)[0] is Outcome.APPLIED
    records = dict(core.take_dirty())
    restored = PartitionCore(KpiSettings())  # no meta: the partition's offsets start over
    for name, record in records.items():
        restored.load_key(name, record)
    assert "v1" in restored.frozen["visitor_id"]
    assert restored.ingest(raw, "web", b"v1", 0)[0] is Outcome.REDELIVERED
    assert "v1" in restored.keys["visitor_id"]  # thawed
    assert [name for name, _ in restored.take_dirty()] == []  # nothing changed ...
    assert "v1" in restored.frozen["visitor_id"]  # ... and frozen again
    assert not restored.keys["visitor_id"]
