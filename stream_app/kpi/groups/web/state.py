"""Per-visitor state of the web group, and its compact stored form.

Persisted, for the last ``longest window + gap`` days of the visitor:

- ``s``: the sessions as summaries (:class:`~stream_app.kpi.groups.web.sessions.Session`),
  one list each: ``[first_us, last_us - first_us, pageviews, clicks, engaged_ms]``, then for
  a session with a page view ``entry, entry_us - first_us, entry event id`` and, when the
  exit is another page view, ``exit, last_us - exit_us, exit event id``;
- ``f``: the facts the partition's per-event day counts are made of, so that a recovered
  worker can put them back (page views by path, time on page, scroll, links, answers): one
  flat list, per event ``head`` (= ``day * 8 + type code``) then its values
  (:data:`FACT_WIDTH`). Neither the time nor the event id of an event is kept. In memory
  the facts take three items each (``head, a, b``, ``b`` None for the one-value types),
  in day order (:func:`add_fact`), so that expiring the old ones looks at those only, and
  their strings by number in a string table (packing them looks up none).

Records of earlier versions (``{"e": [...]}``: the visitor's events) still load: the
sessions and facts are made from the events (:func:`from_events`).

Derived (rebuilt on load): the latest day and the last page-view day.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
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
from stream_app.kpi.shared import shared_int

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
    is *packed*: its sessions and facts are kept as one bytes object (:func:`pack`) in
    ``packed``, and unpacked by its next change or read (:func:`unpack`)."""

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


#: the strings a packed state refers to by number (paths, links, surveys, answers: the
#: labels a partition keeps are few), process-wide; a string seen once the table is full
#: is kept in the packed form itself
_STRINGS: list[str] = []
_STRING_NUMBERS: dict[str, int] = {}
STRING_TABLE_SIZE = 4096


def _ref(value: str) -> Any:
    """The number of ``value`` in the string table (or ``value`` itself once it is full)."""
    number = _STRING_NUMBERS.get(value)
    if number is None:
        if len(_STRINGS) >= STRING_TABLE_SIZE:
            return value
        number = _STRING_NUMBERS[value] = len(_STRINGS)
        _STRINGS.append(value)
    return number


def _deref(item: Any) -> Any:
    """Inverse of :func:`_ref` (the table's one shared instance of the string)."""
    return _STRINGS[item] if isinstance(item, int) else item


def _eid_out(eid: str) -> Any:
    """An event id of 32 lower-case hex digits as its 16 bytes (the same order)."""
    if len(eid) == 32:
        try:
            raw = bytes.fromhex(eid)
        except ValueError:
            return eid
        if raw.hex() == eid:
            return raw
    return eid


def _eid_in(item: Any) -> str:
    return item.hex() if isinstance(item, bytes) else str(item)


#: one packer for every pack (msgpack.packb makes a new one per call)
_PACKER = msgpack.Packer()


def pack(state: WebState) -> None:
    """Keep a settled visitor's sessions (all published) and facts in their packed form:
    one msgpack list of small numbers, each session's times relative to its first event's
    (the first event's relative to the previous session's), the facts' days relative to
    the oldest one's, strings by their number in the string table, hex event ids as their
    bytes (a third of the orjson form of :func:`dump`)."""
    if state.packed is not None:
        return
    out: list[Any] = [len(state.sessions)]
    prev = 0
    for s in state.sessions:
        first: int = s.first_us
        last: int = s.last_us
        entry = s.entry
        exit_ = s.exit
        flags: int = s.pageviews * 4
        if entry is not None:
            flags += 1
            if s.exit_us != s.entry_us or s.exit_eid != s.entry_eid or exit_ != entry:
                flags += 2
        out.append(first - prev)
        out.append(last - first)
        out.append(flags)
        out.append(s.clicks)
        out.append(s.engaged_ms)
        prev = first
        if entry is not None:
            out.append(_ref(entry))
            out.append(s.entry_us - first)
            out.append(_eid_out(s.entry_eid))
            if flags & 2 and exit_ is not None:
                out.append(_ref(exit_))
                out.append(last - s.exit_us)
                out.append(_eid_out(s.exit_eid))
    facts = state.facts
    n = len(facts)
    if n:
        base: int = facts[0] & ~7  # the oldest day, times 8
        out.append(base >> 3)
        for i in range(0, n, 3):
            head: int = facts[i]
            code = head & 7
            out.append(head - base)
            if code in (PAGE_LEFT, SURVEY_ANSWERED):  # two values
                out.append(facts[i + 1])
                out.append(facts[i + 2])
            else:
                out.append(facts[i + 1])
    state.packed = _PACKER.pack(out)
    state.sessions = state.facts = _PACKED


def _unpacked(packed: bytes) -> tuple[list[Session], list[Any]]:
    """The sessions (published) and facts of a packed form (:func:`pack`)."""
    raw: list[Any] = msgpack.unpackb(packed)
    sessions: list[Session] = []
    i = 1
    prev = 0
    for _ in range(raw[0]):
        first: int = prev + raw[i]
        last: int = first + raw[i + 1]
        flags: int = raw[i + 2]
        s = Session(first, last, flags >> 2, raw[i + 3], raw[i + 4], published=True)
        i += 5
        if flags & 1:
            entry: str = _deref(raw[i])
            entry_us: int = first + raw[i + 1]
            entry_eid = _eid_in(raw[i + 2])
            s.entry = entry
            s.entry_us = entry_us
            s.entry_eid = entry_eid
            i += 3
            if flags & 2:
                s.exit = _deref(raw[i])
                s.exit_us = last - raw[i + 1]
                s.exit_eid = _eid_in(raw[i + 2])
                i += 3
            else:
                s.exit = entry
                s.exit_us = entry_us
                s.exit_eid = entry_eid
        sessions.append(s)
        prev = first
    facts: list[Any] = []
    n = len(raw)
    if i < n:
        base: int = raw[i] * 8
        i += 1
        while i < n:
            head: int = base + raw[i]
            code = head & 7
            facts.append(head)
            if code in (PAGE_LEFT, SURVEY_ANSWERED):  # two values
                facts.append(raw[i + 1])
                facts.append(raw[i + 2])
                i += 3
            else:
                facts.append(raw[i + 1])
                facts.append(None)
                i += 2
    return sessions, facts


def _stored(packed: bytes) -> dict[str, Any]:
    """The stored form (:func:`dump`) of a packed form, without making its sessions."""
    raw: list[Any] = msgpack.unpackb(packed)
    rows: list[list[Any]] = []
    i = 1
    prev = 0
    for _ in range(raw[0]):
        first: int = prev + raw[i]
        flags: int = raw[i + 2]
        row: list[Any] = [first, raw[i + 1], flags >> 2, raw[i + 3], raw[i + 4]]
        i += 5
        if flags & 1:
            row.append(_deref(raw[i]))
            row.append(raw[i + 1])
            row.append(_eid_in(raw[i + 2]))
            i += 3
            if flags & 2:
                row.append(_deref(raw[i]))
                row.append(raw[i + 1])
                row.append(_eid_in(raw[i + 2]))
                i += 3
        rows.append(row)
        prev = first
    facts: list[Any] = []
    n = len(raw)
    if i < n:
        base: int = raw[i] * 8
        i += 1
        while i < n:
            head: int = base + raw[i]
            code = head & 7
            facts.append(head)
            if code == PAGE_LEFT:
                facts.append(raw[i + 1])
                facts.append(raw[i + 2])
                i += 3
            elif code == SURVEY_ANSWERED:
                facts.append(_deref(raw[i + 1]))
                facts.append(_deref(raw[i + 2]))
                i += 3
            else:
                facts.append(_deref(raw[i + 1]))
                i += 2
    return {"s": rows, "f": facts}


def packed_state(packed: bytes, latest_day: int | None, pv_day: int | None) -> WebState:
    """A packed state of its packed form and derived days (a frozen visitor thawed)."""
    state = WebState(_PACKED, _PACKED)
    state.packed = packed
    if latest_day is not None:
        state.latest_day = shared_int(latest_day)
    if pv_day is not None:
        state.pv_day = shared_int(pv_day)
    return state


def sessions_of(state: WebState) -> list[Session]:
    """The sessions of a packed or unpacked state (a packed one stays packed)."""
    if state.packed is None:
        return state.sessions
    return _unpacked(state.packed)[0]


def unpack(state: WebState) -> None:
    """Undo :func:`pack` (the sessions come back published)."""
    if state.packed is not None:
        state.sessions, state.facts = _unpacked(state.packed)
        state.packed = None


def iter_facts(facts: list[Any]) -> list[tuple[int, int, int, Any, Any]]:
    """``(index of the head, day, code, a, b)`` per fact (``b`` None for the one-value
    types)."""
    out = []
    for i in range(0, len(facts), 3):
        day, code = divmod(facts[i], 8)
        if code == PAGE_LEFT:
            out.append((i, day, code, facts[i + 1], facts[i + 2]))
        else:
            out.append((i, day, code, _deref(facts[i + 1]), _deref(facts[i + 2])))
    return out


def add_fact(facts: list[Any], head: int, a: Any, b: Any) -> None:
    """Add a fact at its place by day (appending when its day is the latest, the usual
    case): the facts stay in day order, so the expiry only looks at the oldest ones. Its
    strings are kept as their numbers in the string table (:func:`_ref`)."""
    code = head & 7
    if code != PAGE_LEFT:
        a = _ref(a)
        if code == SURVEY_ANSWERED:
            b = _ref(b)
    n = len(facts)
    if not n or facts[n - 3] >> 3 <= head >> 3:
        facts += (head, a, b)
        return
    limit = ((head >> 3) + 1) * 8  # after every fact of the same day or earlier
    j = n - 3
    while j > 0 and facts[j - 3] >= limit:
        j -= 3
    facts[j:j] = (head, a, b)


def drop_facts_before(facts: list[Any], day: int) -> bool:
    """Remove (in place) the facts of days before ``day`` (the facts are in day order);
    True when some were."""
    limit = day * 8
    if not facts or facts[0] >= limit:
        return False
    i, n = 3, len(facts)
    while i < n and facts[i] < limit:
        i += 3
    del facts[:i]
    return True


def stored_facts(facts: list[Any]) -> list[Any]:
    """The stored form of the facts: ``head, value[, value]`` per fact (no ``None``)."""
    out: list[Any] = []
    for i in range(0, len(facts), 3):
        head = facts[i]
        code = head & 7
        if code == PAGE_LEFT:
            out += (head, facts[i + 1], facts[i + 2])
        elif code == SURVEY_ANSWERED:
            out += (head, _deref(facts[i + 1]), _deref(facts[i + 2]))
        else:
            out += (head, _deref(facts[i + 1]))
    return out


def facts_of(stored: list[Any]) -> list[Any]:
    """Inverse of :func:`stored_facts`: three items per fact, in day order (whatever the
    order of the stored form)."""
    triples: list[tuple[int, Any, Any]] = []
    i, n = 0, len(stored)
    while i < n:
        head = int(stored[i])
        code = head & 7
        if code == PAGE_LEFT:
            triples.append((head, stored[i + 1], stored[i + 2]))
            i += 3
        elif code == SURVEY_ANSWERED:
            triples.append((head, _ref(stored[i + 1]), _ref(stored[i + 2])))
            i += 3
        else:
            triples.append((head, _ref(stored[i + 1]), None))
            i += 2
    triples.sort(key=lambda t: t[0] >> 3)  # stable: the same day keeps its order
    out: list[Any] = []
    for t in triples:
        out += t
    return out


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
    """The stored form (see the module's doc), packed or not."""
    if state.packed is not None:
        return _stored(state.packed)
    return {"s": dump_sessions(state.sessions), "f": stored_facts(state.facts)}


def load(raw: dict[str, Any], gap_us: int, day_of_us: Callable[[int], int]) -> WebState:
    """A stored visitor: this version's form, or an earlier one's events (``"e"``)."""
    if "e" in raw and "s" not in raw:
        return from_events(load_events(raw["e"]), gap_us, day_of_us)
    return WebState(load_sessions(raw.get("s", [])), facts_of(raw.get("f", [])))


def from_events(events: list[WebEvent], gap_us: int, day_of_us: Callable[[int], int]) -> WebState:
    """The state of a visitor stored as its events (sorted) by an earlier version."""
    facts: list[Any] = []
    for us, code, _eid, a, b in events:  # sorted by time: by day too
        add_fact(facts, day_of_us(us) * 8 + code, a, b if _STEP[code] == 3 else None)
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
