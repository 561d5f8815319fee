"""A settled visitor's packed form (:func:`stream_app.kpi.groups.web.state.pack`: msgpack of
small numbers, strings by number, hex event ids as bytes) gives back exactly what was
packed; the facts are kept in day order, so that their expiry looks at the oldest only."""

from __future__ import annotations

from collections import Counter
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.kpi.groups.web import state as state_module
from stream_app.kpi.groups.web.sessions import (
    LINK_CLICKED,
    LINK_SHOWN,
    PAGE_LEFT,
    PAGE_VIEWED,
    SURVEY_ANSWERED,
    Session,
    add_event,
)
from stream_app.kpi.groups.web.state import (
    WebState,
    add_fact,
    drop_facts_before,
    dump,
    facts_of,
    iter_facts,
    pack,
    sessions_of,
    stored_facts,
    unpack,
)

GAP_US = 1800 * 1_000_000
T0 = 1_773_093_600_000_000  # 2026-03-09T22:00:00Z in µs
DAY0 = 20_521  # its calendar day (UTC)

HEX = "0123456789abcdef"
event_ids = st.one_of(
    st.text(HEX, min_size=32, max_size=32),  # the generator's and most trackers' ids
    st.text(HEX.upper(), min_size=32, max_size=32),  # hex, but not in the packed 16 bytes
    st.text(min_size=0, max_size=40),  # anything else a producer sends
)
names = st.one_of(st.sampled_from(["/", "/pricing", "cta", "é/ü"]), st.text(max_size=20))


@st.composite
def visitors(draw: st.DrawFn) -> tuple[list[Session], list[Any]]:
    """The sessions (some bridged by late events, some without a page view) and the facts
    (every type, late days among them) of one visitor."""
    sessions: list[Session] = []
    for _ in range(draw(st.integers(0, 25))):
        us = T0 + draw(st.integers(0, 40 * 86_400)) * 1_000_000 + draw(st.integers(0, 999_999))
        code = draw(st.sampled_from([PAGE_VIEWED, PAGE_VIEWED, PAGE_LEFT, LINK_CLICKED]))
        a: Any = draw(names) if code == PAGE_VIEWED else draw(st.integers(0, 10**9))
        eid = draw(event_ids) if code == PAGE_VIEWED else ""
        add_event(sessions, us, code, eid, a, GAP_US)
    for s in sessions:
        s.published = True  # as a settled visitor's
    facts: list[Any] = []
    for _ in range(draw(st.integers(0, 30))):
        day = DAY0 + draw(st.integers(0, 40))
        code = draw(st.sampled_from([PAGE_VIEWED, PAGE_LEFT, LINK_SHOWN, LINK_CLICKED, 4]))
        b: Any
        if code == PAGE_LEFT:
            a, b = draw(st.integers(0, 2**40)), draw(st.integers(0, 100))
        elif code == SURVEY_ANSWERED:
            a, b = draw(names), draw(names)
        else:
            a, b = draw(names), None
        add_fact(facts, day * 8 + code, a, b)
    return sessions, facts


@settings(max_examples=300, deadline=None)
@given(visitors())
def test_pack_then_unpack_gives_back_the_sessions_and_facts(
    visitor: tuple[list[Session], list[Any]],
) -> None:
    sessions, facts = visitor
    keys = [s.key() for s in sessions]
    state = WebState(sessions, list(facts))
    stored = orjson.loads(orjson.dumps(dump(state)))
    pack(state)
    assert state.packed is not None
    assert [s.key() for s in sessions_of(state)] == keys  # read without unpacking
    assert orjson.loads(orjson.dumps(dump(state))) == stored  # the same stored form
    unpack(state)
    assert [s.key() for s in state.sessions] == keys
    assert all(s.published for s in state.sessions)
    assert state.facts == facts


def test_strings_past_the_table_are_kept_in_the_packed_form() -> None:
    """Once the string table is full, a new string is packed as itself."""
    table = state_module._STRINGS
    with mock.patch.object(state_module, "STRING_TABLE_SIZE", len(table)):
        state = WebState([], [])
        add_fact(state.facts, DAY0 * 8 + PAGE_VIEWED, "/a-page-never-seen-before-0f3c", None)
        pack(state)
        assert len(table) == state_module.STRING_TABLE_SIZE  # nothing was added
        assert b"/a-page-never-seen-before-0f3c" in (state.packed or b"")
        unpack(state)
    assert state.facts == [DAY0 * 8 + PAGE_VIEWED, "/a-page-never-seen-before-0f3c", None]


def _days(facts: list[Any]) -> list[int]:
    return [day for _i, day, _code, _a, _b in iter_facts(facts)]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([3, 3, 4, 7], [3, 3, 4, 7]),  # in order: appended
        ([5, 3], [3, 5]),  # a late day goes before
        ([5, 7, 5, 6, 2, 7], [2, 5, 5, 6, 7, 7]),
        ([4, 4, 4, 3], [3, 4, 4, 4]),
    ],
)
def test_facts_stay_in_day_order(days: list[int], expected: list[int]) -> None:
    facts: list[Any] = []
    for i, day in enumerate(days):
        add_fact(facts, day * 8 + PAGE_VIEWED, f"/p{i}", None)
    assert _days(facts) == expected
    # the same day keeps its arrival order
    order = sorted(range(len(days)), key=lambda i: days[i])  # stable
    assert [a for _i, _d, _c, a, _b in iter_facts(facts)] == [f"/p{i}" for i in order]


@pytest.mark.parametrize(
    ("days", "cutoff", "kept", "dropped"),
    [
        ([], 5, [], False),
        ([5, 6], 5, [5, 6], False),
        ([3, 4, 5, 9], 5, [5, 9], True),
        ([3, 4], 5, [], True),
        ([4, 4, 8], 8, [8], True),
    ],
)
def test_drop_facts_before(days: list[int], cutoff: int, kept: list[int], dropped: bool) -> None:
    facts: list[Any] = []
    for day in days:
        add_fact(facts, day * 8 + PAGE_LEFT, 1_000, 50)
    assert drop_facts_before(facts, cutoff) is dropped
    assert _days(facts) == kept


def test_the_stored_facts_of_main_load_in_day_order() -> None:
    """Main's stored form: ``head, value[, value]`` per fact in arrival order (late days
    anywhere); loaded, they are in day order, and stored again they are the same facts."""
    stored = [
        (DAY0 + 2) * 8 + PAGE_VIEWED, "/b",
        (DAY0 + 2) * 8 + PAGE_LEFT, 12_000, 60,
        DAY0 * 8 + SURVEY_ANSWERED, "task_completion", "yes",
        (DAY0 + 1) * 8 + LINK_SHOWN, "cta",
        DAY0 * 8 + LINK_CLICKED, "cta",
    ]  # fmt: skip
    facts = facts_of(stored)
    assert _days(facts) == [DAY0, DAY0, DAY0 + 1, DAY0 + 2, DAY0 + 2]
    assert [(c, a, b) for _i, _d, c, a, b in iter_facts(facts)] == [
        (SURVEY_ANSWERED, "task_completion", "yes"),
        (LINK_CLICKED, "cta", None),
        (LINK_SHOWN, "cta", None),
        (PAGE_VIEWED, "/b", None),
        (PAGE_LEFT, 12_000, 60),
    ]

    def as_facts(flat: list[Any]) -> Counter[tuple[Any, ...]]:
        return Counter((d, c, a, b) for _i, d, c, a, b in iter_facts(facts_of(flat)))

    assert as_facts(stored_facts(facts)) == as_facts(stored)
