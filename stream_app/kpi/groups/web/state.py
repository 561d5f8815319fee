"""Per-visitor state of the web group, and its compact stored form.

Persisted, for the last ``longest window + gap`` days of the visitor:

- ``s``: the sessions as summaries (:class:`~stream_app.kpi.groups.web.sessions.Session`),
  one list each: ``[first_us, last_us - first_us, pageviews, clicks, engaged_ms]``, then for
  a session with a page view ``entry, entry_us - first_us, entry event id`` and, when the
  exit is another page view, ``exit, last_us - exit_us, exit event id``;
- ``f``: the facts the partition's per-event day counts are made of, so that a recovered
  worker can put them back (page views by path, time on page, scroll, links, answers): one
  flat list, per event ``head`` (= ``day * 8 + type code``) then its values
  (:data:`FACT_WIDTH`). Neither the time nor the event id of an event is kept.

Records of earlier versions (``{"e": [...]}``: the visitor's events) still load: the
sessions and facts are made from the events (:func:`from_events`).

Derived (rebuilt on load): the latest day and the last page-view day.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from mypy_extensions import mypyc_attr

from stream_app.kpi.groups.web.sessions import (
    LINK_CLICKED,
    LINK_SHOWN,
    PAGE_LEFT,
    PAGE_VIEWED,
    SURVEY_ANSWERED,
    Session,
    WebEvent,
    build_sessions,
)

#: values after the head of a fact, by type code: a page view its path, a page_left its
#: engaged_ms and max_scroll_pct, a link its name, an answer its survey and answer
FACT_WIDTH = {PAGE_VIEWED: 1, PAGE_LEFT: 2, LINK_SHOWN: 1, LINK_CLICKED: 1, SURVEY_ANSWERED: 2}
_STEP = (2, 3, 2, 2, 3)  # 1 + FACT_WIDTH by code


@mypyc_attr(native_class=False)  # a list subclass: mypyc compiles its methods only
class _PackedList(list):
    """``sessions`` and ``facts`` of a packed state: one shared empty list that refuses
    every change, so that a use that forgot to unpack fails loudly instead of changing a
    list every packed state shares. (A list, not a tuple: the compiled build checks the
    attributes' declared types.)"""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("a packed web state was changed without unpack()")


for _name in (
    "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
    "__setitem__", "__delitem__", "__iadd__", "__imul__",
):  # fmt: skip
    setattr(_PackedList, _name, _PackedList._refuse)

_PACKED: Any = _PackedList()


class WebState:
    """One visitor: its sessions (sorted by time) and the facts of its events.

    A visitor that did not change since the last settle (most of them, most of the time)
    is *packed*: its sessions and facts are kept as their stored form (orjson bytes, a
    third of the objects' size) in ``packed``, and unpacked by its next change or read
    (:func:`unpack`)."""

    __slots__ = ("facts", "latest_day", "packed", "pv_day", "sessions")

    def __init__(
        self, sessions: list[Session] | None = None, facts: list[Any] | None = None
    ) -> None:
        self.sessions: list[Session] = sessions if sessions is not None else []
        #: ``head, value[, value]`` per event (see the module's doc)
        self.facts: list[Any] = facts if facts is not None else []
        #: calendar day of the latest event (None: no event yet)
        self.latest_day: int | None = None
        #: calendar day of the latest page_viewed (the "unique visitors" day count)
        self.pv_day: int | None = None
        #: the stored form of ``sessions`` and ``facts`` while packed (None: unpacked)
        self.packed: bytes | None = None


def pack(state: WebState) -> None:
    """Keep a settled visitor's sessions (all published) and facts as their stored form."""
    if state.packed is None:
        # an exact-size copy: orjson's own bytes keep its 4 KiB output buffer
        state.packed = bytes(memoryview(orjson.dumps(dump(state))))
        state.sessions = state.facts = _PACKED


def sessions_of(state: WebState) -> list[Session]:
    """The sessions of a packed or unpacked state (a packed one stays packed)."""
    if state.packed is None:
        return state.sessions
    return load_sessions(orjson.loads(state.packed)["s"], published=True)


def unpack(state: WebState) -> None:
    """Undo :func:`pack` (the sessions come back published)."""
    if state.packed is not None:
        raw = orjson.loads(state.packed)
        state.packed = None
        state.sessions = load_sessions(raw["s"], published=True)
        state.facts = raw["f"]


def iter_facts(facts: list[Any]) -> list[tuple[int, int, int, Any, Any]]:
    """``(index of the head, day, code, a, b)`` per fact (``b`` None for the one-value
    types)."""
    out = []
    i, n = 0, len(facts)
    while i < n:
        day, code = divmod(facts[i], 8)
        if _STEP[code] == 3:
            out.append((i, day, code, facts[i + 1], facts[i + 2]))
        else:
            out.append((i, day, code, facts[i + 1], None))
        i += _STEP[code]
    return out


def drop_facts_before(facts: list[Any], day: int) -> bool:
    """Remove (in place) the facts of days before ``day``; True when some were."""
    limit = day * 8
    i, n = 0, len(facts)
    while i < n:
        if facts[i] < limit:
            break
        i += _STEP[facts[i] & 7]
    else:
        return False
    kept: list[Any] = facts[:i]
    while i < n:
        step = _STEP[facts[i] & 7]
        if facts[i] >= limit:
            kept.extend(facts[i : i + step])
        i += step
    facts[:] = kept
    return True


def dump_sessions(sessions: list[Session]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for s in sessions:
        first = s.first_us
        row: list[Any] = [first, s.last_us - first, s.pageviews, s.clicks, s.engaged_ms]
        if s.entry is not None:
            row += [s.entry, s.entry_us - first, s.entry_eid]
            if (s.exit_us, s.exit_eid, s.exit) != (s.entry_us, s.entry_eid, s.entry):
                row += [s.exit, s.last_us - s.exit_us, s.exit_eid]
        out.append(row)
    return out


def load_sessions(raw: list[list[Any]], published: bool = False) -> list[Session]:
    out: list[Session] = []
    for row in raw:
        first = int(row[0])
        last = first + int(row[1])
        s = Session(first, last, int(row[2]), int(row[3]), int(row[4]), published=published)
        if len(row) > 5:
            s.entry, s.entry_us, s.entry_eid = str(row[5]), first + int(row[6]), str(row[7])
            if len(row) > 8:
                s.exit, s.exit_us, s.exit_eid = str(row[8]), last - int(row[9]), str(row[10])
            else:
                s.exit, s.exit_us, s.exit_eid = s.entry, s.entry_us, s.entry_eid
        out.append(s)
    out.sort(key=lambda s: s.first_us)
    return out


def dump(state: WebState) -> dict[str, Any]:
    if state.packed is not None:
        raw: dict[str, Any] = orjson.loads(state.packed)
        return raw
    return {"s": dump_sessions(state.sessions), "f": state.facts}


def load(raw: dict[str, Any], gap_us: int, day_of_us: Callable[[int], int]) -> WebState:
    """A stored visitor: this version's form, or an earlier one's events (``"e"``)."""
    if "e" in raw and "s" not in raw:
        return from_events(load_events(raw["e"]), gap_us, day_of_us)
    return WebState(load_sessions(raw.get("s", [])), list(raw.get("f", [])))


def from_events(events: list[WebEvent], gap_us: int, day_of_us: Callable[[int], int]) -> WebState:
    """The state of a visitor stored as its events (sorted) by an earlier version."""
    facts: list[Any] = []
    for us, code, _eid, a, b in events:
        facts.append(day_of_us(us) * 8 + code)
        facts.append(a)
        if _STEP[code] == 3:
            facts.append(b)
    return WebState(build_sessions(events, gap_us), facts)


def dump_events(events: list[WebEvent]) -> list[list[Any]]:
    """The stored form of earlier versions: ``[us, code, a, b]`` per event, ``[us, 0,
    path, event_id]`` for a page view (written by tests, to check they still load)."""
    out: list[list[Any]] = []
    for us, code, eid, a, b in events:
        if code == PAGE_VIEWED:
            out.append([us, code, a, eid])
        elif b is None:
            out.append([us, code, a])
        else:
            out.append([us, code, a, b])
    return out


def load_events(raw: list[list[Any]]) -> list[WebEvent]:
    """Inverse of :func:`dump_events` (sorted again, whatever the stored order)."""
    out: list[WebEvent] = []
    for item in raw:
        us, code, a = int(item[0]), int(item[1]), item[2]
        if code == PAGE_VIEWED:
            out.append((us, code, str(item[3]), a, None))
        else:
            out.append((us, code, "", a, item[3] if len(item) > 3 else None))
    out.sort()
    return out
