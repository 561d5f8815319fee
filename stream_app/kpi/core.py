"""One partition's KPI state: validation, deduplication, bookkeeping, reads.

The worker keeps one ``PartitionCore`` per assigned partition; ``replay`` uses one for
everything. Both feed it the same bytes through :meth:`PartitionCore.ingest`, so they
cannot disagree.
"""

from __future__ import annotations

import inspect
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from types import MethodDescriptorType
from typing import Any, Final

from stream_app.contract import (
    EVENT_TYPES,
    KEY_FIELDS,
    REJECTION_REASONS,
    TYPE_KEY,
    TYPE_TOPIC,
    Event,
    EventParser,
    Rejection,
)
from stream_app.kpi.families import Family
from stream_app.kpi.frozen import NEVER, FrozenStore
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.keystate import KeyState, Layout, Outcome, admit_id, freeze, thaw
from stream_app.kpi.registry import build_groups
from stream_app.kpi.settings import KpiSettings

log = logging.getLogger(__name__)
_NO_US: Final = -(2**63)
#: how a key's record is named in the store: "<key field>:<key>" ("account_id:acme")
STORE_SEPARATOR: Final = ":"

#: keys of a field in :attr:`PartitionCore.freezers` kept thawed at most: past it, the
#: one applied least recently is frozen at once, changed or not (its record is made from
#: its frozen form). Between two commits a backlog thaws or creates many keys; freed at
#: the commit, their objects left the memory they were allocated in resident (per 100,000
#: visitors in one process: 42 MB committed every 30,000 events, 58 every 100,000, 38
#: every 5,000)
HOT_KEYS = 2048
#: the same bound in a replay (``stream-app replay``: :class:`PartitionCore`'s
#: ``hot_keys``, which the web group's bound of unpacked visitors follows): no commits
#: there, and its state goes at its end, so it trades memory for CPU. A visitor back
#: after more than the bound's other keys is frozen and thawed again (its sessions
#: published and packed, its dedupe ids packed). On a 30-day bench dataset (1,683,809
#: lines, 44,425 visitors; 3 alternated rounds) one process spent 17.0–22.5 µs of CPU a
#: line at 2,048 and 13.8–16.5 at 16,384 (0.71–0.81 of it), for 40 MB more resident
#: (178 -> 218 MB); BENCHMARKS.md, thirteenth pass
REPLAY_HOT_KEYS = 16_384

_APPLIED: Final = Outcome.APPLIED
_REDELIVERED: Final = Outcome.REDELIVERED


class _Applier:
    """A group that takes an event type, and the cell of its slice in a key's state.

    ``direct``: its class's ``apply`` is the compiled method (called through mypyc's
    method table, without a bound method); False when it is a Python function (the
    pure-Python path, or a method replaced at run time, as a test does): then the bound
    method ``call`` is called, as Python would."""

    def __init__(self, group: KpiGroup[Any], cell: int) -> None:
        self.group = group
        self.name = group.name
        self.cell = cell
        self.call: Callable[[str, Any, Event, int], None] = group.apply
        self.direct = type(inspect.getattr_static(group, "apply")) is MethodDescriptorType


class _Route:
    """What :meth:`PartitionCore.apply` needs of an event type (the hot loop's view): its
    topic role, the cells of its window and of the type's count, its key field, that
    field's layout and key states, and the groups that take it."""

    def __init__(
        self,
        role: str,
        window_cell: int,
        count_cell: int,
        key_field: str,
        layout: Layout,
        states: dict[str, KeyState],
        frozen: FrozenStore | None,
        appliers: list[_Applier],
        thawed: dict[str, None] | None,
        changed_keys: dict[str, None] | None,
    ) -> None:
        self.role = role
        self.window_cell = window_cell
        self.count_cell = count_cell
        self.key_field = key_field
        self.layout = layout
        self.states = states
        #: the field's frozen keys (None: the field is not frozen)
        self.frozen = frozen
        self.appliers = appliers
        #: the keys of a frozen field kept thawed, least recently applied first (None: the
        #: field is not frozen)
        self.thawed = thawed
        #: the field's changed keys, when frozen (:attr:`PartitionCore.changed_keys`)
        self.changed_keys = changed_keys


def store_key(key_field: str, key: str) -> str:
    """The store name of a key's record."""
    return f"{key_field}{STORE_SEPARATOR}{key}"


class PartitionCore:
    """KPI state of one partition (or of a whole replay)."""

    def __init__(self, settings: KpiSettings, partition: int = 0, hot_keys: int = HOT_KEYS) -> None:
        self.settings = settings
        self.partition = partition
        self.tz = settings.tz
        self.horizon = settings.dedupe_horizon_days
        self.max_lateness_s = settings.max_lateness_days * 86400.0
        self.errors: Counter[str] = Counter()
        self.max_bytes = settings.max_message_bytes
        #: key field -> key -> its state (one namespace per key field of the contract);
        #: for a field in :attr:`freezers`, the keys kept thawed only (the others are in
        #: :attr:`frozen`)
        self.keys: dict[str, dict[str, KeyState]] = {f: {} for f in KEY_FIELDS}
        self.groups: list[KpiGroup[Any]] = build_groups(settings)
        for group in self.groups:
            wrong = sorted(t for t in group.types if TYPE_KEY[t] != group.key_field)
            if wrong:
                raise ValueError(f"group {group.name!r} is keyed by {group.key_field}: {wrong}")
        #: key field -> what its keys' states index (roles, types, groups)
        self.layouts: dict[str, Layout] = {}
        for f in KEY_FIELDS:
            types = [t for t in EVENT_TYPES if TYPE_KEY[t] == f]
            self.layouts[f] = Layout(
                dict.fromkeys(TYPE_TOPIC[t] for t in types),
                types,
                [g.name for g in self.groups if g.key_field == f],
                f,
            )
        #: key field -> its groups and their slices' cells, for the fields whose keys are
        #: kept frozen once settled (every group keyed by it freezes: the web group's
        #: visitors), each key's state as one bytes object instead of ~500 bytes of objects
        self.freezers: dict[str, list[tuple[KpiGroup[Any], int]]] = {}
        for f in KEY_FIELDS:
            groups = [g for g in self.groups if g.key_field == f]
            if groups and all(g.freezes for g in groups):
                self.freezers[f] = [(g, self.layouts[f].slice_cell(g.name)) for g in groups]
        #: key field in :attr:`freezers` -> its frozen keys (a key is in this or in
        #: :attr:`keys`, never both)
        self.frozen: dict[str, FrozenStore] = {f: FrozenStore() for f in self.freezers}
        #: key field in :attr:`freezers` -> its keys kept thawed (see :data:`HOT_KEYS`)
        self.thawed: dict[str, dict[str, None]] = {f: {} for f in self.freezers}
        self.hot_keys: int = hot_keys
        for group in self.groups:
            group.keep_thawed(hot_keys)
        #: for a field in :attr:`freezers`, the keys changed since the last
        #: :meth:`take_dirty` (not their states: a changed key may be frozen before its
        #: record is taken, and its state's objects are then freed)
        self.changed_keys: dict[str, dict[str, None]] = {f: {} for f in self.freezers}
        #: event type -> what applying it needs (the hot loop's view)
        self._routes: dict[str, _Route] = {}
        for t in EVENT_TYPES:
            layout = self.layouts[TYPE_KEY[t]]
            self._routes[t] = _Route(
                TYPE_TOPIC[t],
                layout.window_cell(TYPE_TOPIC[t]),
                layout.count_cell(t),
                TYPE_KEY[t],
                layout,
                self.keys[TYPE_KEY[t]],
                self.frozen.get(TYPE_KEY[t]),
                [_Applier(g, layout.slice_cell(g.name)) for g in self.groups if t in g.types],
                self.thawed.get(TYPE_KEY[t]),
                self.changed_keys.get(TYPE_KEY[t]),
            )
        self.parser = EventParser(self.tz, self.max_bytes)
        #: the groups with a check of their own: (group, its bound check, whether the
        #: check is the compiled method: see :class:`_Applier`)
        self._checks = [
            (g, g.check, type(inspect.getattr_static(g, "check")) is MethodDescriptorType)
            for g in self.groups
            if type(g).check is not KpiGroup.check
        ]
        self.type_counts: dict[str, int] = dict.fromkeys(EVENT_TYPES, 0)
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        self.offsets: dict[str, int] = {}  # role -> highest offset fully handled
        #: "<role>:<partition>" -> highest offset of that partition whose copy, forwarded
        #: here by a worker, was handled (see :meth:`ingest_batch`)
        self.forwards: dict[str, int] = {}
        #: the states changed since the last :meth:`take_dirty` (flagged ``dirty``; for a
        #: field in :attr:`freezers`, :attr:`changed_keys` instead)
        self.changed: list[KeyState] = []
        #: key field -> its keys a group forgot (idle): their records are deleted
        self.gone: dict[str, set[str]] = {f: set() for f in KEY_FIELDS}
        #: event and duplicate counts of forgotten keys (kept in the partition meta, so
        #: ``cs_events_total`` survives forgetting and a restart)
        self.forgotten_counts: Counter[str] = Counter()
        self.forgotten_duplicates = 0
        self.max_us = _NO_US  # the latest event time applied (epoch microseconds)

    @property
    def accounts(self) -> dict[str, KeyState]:
        """The states of the account-keyed topics' keys (never frozen)."""
        return self.keys["account_id"]

    def state(self, key_field: str, key: str) -> KeyState | None:
        """The state of ``key`` (of ``key_field``), a frozen one thawed for reading only
        (None when the key is unknown to this partition)."""
        found = self.keys[key_field].get(key)
        if found is not None:
            return found
        store = self.frozen.get(key_field)
        raw = None if store is None else store.get(key)
        return None if raw is None else self._thaw(key_field, key, raw, False)

    def holds(self, key_field: str, key: str) -> bool:
        """Whether ``key`` (of ``key_field``) has a state in this partition."""
        if key in self.keys[key_field]:
            return True
        store = self.frozen.get(key_field)
        return store is not None and key in store

    def key_states(self, key_field: str) -> Iterator[tuple[str, KeyState]]:
        """(key, state) of every key of ``key_field``: the thawed ones, then the frozen
        ones thawed for reading only, in the order they were frozen."""
        yield from list(self.keys[key_field].items())
        store = self.frozen.get(key_field)
        if store is not None:
            for key, raw in store.items():
                yield key, self._thaw(key_field, key, raw, False)

    def _freeze(self, key_field: str, state: KeyState) -> tuple[bytes, int] | None:
        """The frozen form of a state of a field in :attr:`freezers` and its tag (the
        earliest of its groups' :meth:`KpiGroup.idle_day`; None when a group cannot
        freeze its slice now)."""
        slices: list[Any] = []
        tag = NEVER
        for group, cell in self.freezers[key_field]:
            slice_ = state[cell]
            if slice_ is None:
                slices.append(None)
                continue
            frozen = group.freeze(state.key, slice_)
            if frozen is None:
                return None
            slices.append(frozen)
            day = group.idle_day(slice_)
            if day is not None and day < tag:
                tag = max(day, 0)
        return freeze(state, slices), tag

    def _keep_frozen(self, key_field: str, key: str, state: KeyState) -> None:
        """Store ``state`` (of a field in :attr:`freezers`, stored under ``key``) frozen,
        when it can be."""
        frozen = self._freeze(key_field, state)
        if frozen is not None:
            del self.keys[key_field][key]
            self.frozen[key_field].put(key, frozen[0], frozen[1])

    def _freeze_least_recent(self, key_field: str, thawed: dict[str, None]) -> None:
        """Freeze the key of ``key_field`` applied least recently (see :data:`HOT_KEYS`)."""
        key = next(iter(thawed))
        del thawed[key]
        state = self.keys[key_field].get(key)
        if state is not None:  # still in ``changed_keys``
            self._keep_frozen(key_field, key, state)

    def _thaw(self, key_field: str, key: str, frozen: bytes, stored: bool) -> KeyState:
        """The state of a frozen key (``stored``: to be stored thawed, not only read)."""
        state, slices = thaw(self.layouts[key_field], key, frozen)
        for (group, cell), raw in zip(self.freezers[key_field], slices, strict=True):
            if raw is not None:
                state[cell] = group.thaw(key, raw, stored)
        return state

    def _take_frozen(self, key_field: str, key: str) -> KeyState | None:
        """Thaw a frozen key to store it thawed (None: it is not frozen)."""
        store = self.frozen.get(key_field)
        raw = None if store is None else store.pop(key)
        if raw is None:
            return None
        state = self.keys[key_field][key] = self._thaw(key_field, key, raw, True)
        return state

    # -- ingest ---------------------------------------------------------------
    def ingest(
        self,
        raw: bytes | str,
        role: str | None = None,
        key: bytes | None = None,
        offset: int | None = None,
        *,
        now: float | None = None,
        future_tolerance_s: float | None = None,
        until: float | None = None,
    ) -> tuple[Outcome, Event | Rejection]:
        """Validate and apply one message; never raises on bad input.

        ``now`` (epoch seconds) is the clock of lateness: an event older than
        ``max_lateness_days`` before it is rejected as ``too_late``; with
        ``future_tolerance_s`` (the worker's) one more than that after it as ``future``.
        ``until`` (replay's ``--as-of``): a valid event with a later ``ts`` is not
        counted at all (outcome ``LATER``), as if it had not happened yet.
        """
        if role is not None and offset is not None and offset <= self.offsets.get(role, -1):
            return Outcome.REDELIVERED, Rejection("redelivered", "handled before a restart")
        outcome, detail = self._handle(raw, role, key, offset, now, future_tolerance_s, until)
        if outcome is not Outcome.LATER and role is not None and offset is not None:
            self.offsets[role] = offset
        return outcome, detail

    def ingest_line(
        self, raw: bytes, now: float | None, until: float | None, decoded: object = None
    ) -> tuple[Outcome, Event | Rejection]:
        """``ingest(raw, now=now, until=until)`` (a line of a replay: no topic, key or
        offset) in fewer steps; ``decoded``: ``orjson.loads(raw)`` when the caller has
        it (the parser keeps it as the event's fields)."""
        result = self.parser.parse(raw, decoded)
        if type(result) is Rejection:
            self.rejected[result.reason] += 1
            return Outcome.REJECTED, result
        event, day = result  # type: ignore[misc]
        refused = self._refused(event, now, None) if now is not None or self._checks else None
        if refused is not None:
            self.rejected[refused.reason] += 1
            return Outcome.REJECTED, refused
        if until is not None and event.us > until * 1_000_000:
            return Outcome.LATER, event
        return self.apply(event, day), event

    def ingest_batch(
        self,
        messages: Iterable[tuple[bytes | None, bytes | None, int]],
        role: str,
        *,
        now: float,
        future_tolerance_s: float | None = None,
        origins: Mapping[int, tuple[int, int]] | None = None,
    ) -> tuple[dict[str, int], list[tuple[int, Rejection]]]:
        """:meth:`ingest` of the (value, key, offset) messages of one topic partition, in
        offset order (the worker's hot loop): outcome counts, and (offset, rejection).

        ``origins`` (offset -> (partition, offset) where it first landed) marks the
        messages that are copies a worker forwarded here from another partition of the
        topic (a producer with another partitioner). A partition forwards in offset
        order, and after a crash forwards again from its committed offset: a copy whose
        origin is not past the last one handled from that partition is a redelivery.
        """
        outcomes: dict[str, int] = {}
        rejected: list[tuple[int, Rejection]] = []
        done = self.offsets.get(role, -1)
        handle = self._handle
        for value, key, offset in messages:
            if offset <= done:
                name = "redelivered"
            elif origins and offset in origins and not self._first_copy(role, origins[offset]):
                name = "redelivered"
                done = offset
            else:
                outcome, detail = handle(
                    value or b"", role, key, offset, now, future_tolerance_s, None
                )
                if outcome is Outcome.REJECTED:
                    rejected.append((offset, detail))  # type: ignore[arg-type]
                # the member's own attribute: a dict keyed by the enum would call the
                # pure-Python Enum.__hash__ per event
                name = outcome._value_
                done = offset
            outcomes[name] = outcomes.get(name, 0) + 1
        if done > self.offsets.get(role, -1):
            self.offsets[role] = done
        return outcomes, rejected

    def _first_copy(self, role: str, origin: tuple[int, int]) -> bool:
        """Whether a forwarded copy from ``origin`` is the first one handled here."""
        source = f"{role}:{origin[0]}"
        if origin[1] <= self.forwards.get(source, -1):
            return False
        self.forwards[source] = origin[1]
        return True

    def _handle(
        self,
        raw: bytes | str,
        role: str | None,
        key: bytes | None,
        offset: int | None,
        now: float | None,
        future_tolerance_s: float | None,
        until: float | None,
    ) -> tuple[Outcome, Event | Rejection]:
        """Validate one message and apply it: what :meth:`ingest` and
        :meth:`ingest_batch` share."""
        result = self._validate(raw, role, key, now, future_tolerance_s)
        if type(result) is Rejection:
            self.rejected[result.reason] += 1
            return Outcome.REJECTED, result
        event, day = result  # type: ignore[misc]
        if until is not None and event.us > until * 1_000_000:
            return Outcome.LATER, event
        return self.apply(event, day, role, offset), event

    def _validate(
        self,
        raw: bytes | str,
        role: str | None,
        key: bytes | None,
        now: float | None,
        future_tolerance_s: float | None,
    ) -> tuple[Event, int] | Rejection:
        result = self.parser.parse(raw)
        if type(result) is Rejection:
            return result
        event = result[0]  # type: ignore[index]
        if role is not None and TYPE_TOPIC[event.type] != role:
            return Rejection("wrong_topic", f"{event.type} is not a {role} event")
        if key is not None:
            field = TYPE_KEY[event.type]
            if key != getattr(event, field).encode("utf-8"):
                return Rejection("key_mismatch", f"message key differs from {field}")
        refused = self._refused(event, now, future_tolerance_s)
        return result if refused is None else refused

    def _refused(
        self, event: Event, now: float | None, future_tolerance_s: float | None
    ) -> Rejection | None:
        """The rejection of a valid event for its time (``now``: the lateness clock) or
        by a group's check, None when it is accepted."""
        if now is not None:
            ts = event.us / 1_000_000
            if ts < now - self.max_lateness_s:
                return Rejection("too_late", f"older than {self.settings.max_lateness_days} days")
            if future_tolerance_s is not None and ts > now + future_tolerance_s:
                return Rejection("future", f"more than {future_tolerance_s}s ahead")
        for group, check, direct in self._checks:
            refused = group.check(event) if direct else check(event)
            if refused is not None:
                return refused
        return None

    def event_us(self, raw: bytes | str) -> int | None:
        """The event time (epoch microseconds) of a message the core would accept at some
        time, None for one it rejects whatever the time (invalid, or refused by a group):
        what a replay sorts by, without applying anything."""
        result = self._validate(raw, None, None, None, None)
        if type(result) is Rejection:
            return None
        return result[0].us  # type: ignore[index]

    def apply(
        self, event: Event, day: int, role: str | None = None, offset: int | None = None
    ) -> Outcome:
        """Apply one valid event whose calendar day is ``day``: admitted by its key's
        state (:meth:`KeyState.admit`), then handed to the groups that take its type."""
        kind: str = event.type
        route = self._routes[kind]
        key: str = getattr(event, route.key_field)
        states = route.states
        state = states.get(key)
        if state is not None:
            key = state.key  # the one shared copy of the string
        else:
            if route.frozen is not None:  # a settled key, frozen: its state comes back
                state = self._take_frozen(route.key_field, key)
            if state is None:
                state = states[key] = KeyState(route.layout, key)
        thawed = route.thawed
        if thawed is not None:  # now the key applied most recently
            if key in thawed:
                del thawed[key]
            thawed[key] = None
            if len(thawed) > self.hot_keys:
                self._freeze_least_recent(route.key_field, thawed)
        cells: list[Any] = state
        if role is not None and offset is not None:
            outcome = state.admit(
                route.window_cell, event.event_id, day, self.horizon, offset, route.role
            )
            if outcome is _REDELIVERED:
                return outcome
            new = outcome is _APPLIED
        else:
            new = admit_id(cells, route.window_cell, event.event_id, day, self.horizon)
            if not new:
                state.duplicates += 1
        if not state.dirty:
            state.dirty = True
            marks = route.changed_keys
            if marks is None:
                self.changed.append(state)
            else:
                marks[key] = None
        if not new:  # a duplicate
            self.duplicates += 1
            return Outcome.DUPLICATE
        count_cell = route.count_cell
        cells[count_cell] += 1
        self.type_counts[kind] += 1
        us: int = event.us
        if us > self.max_us:
            self.max_us = us
        for applier in route.appliers:
            cell = applier.cell
            slice_ = cells[cell]
            group = applier.group
            if slice_ is None:
                slice_ = cells[cell] = group.new()
            try:
                if applier.direct:
                    group.apply(key, slice_, event, day)
                else:
                    applier.call(key, slice_, event, day)
            except Exception as exc:  # one KPI's bug must not stop the others or the stream
                self.errors[applier.name] += 1
                log.warning("KPI group %r failed on a %s event: %r", applier.name, kind, exc)
        return Outcome.APPLIED

    @property
    def max_ts(self) -> float | None:
        """The latest event time applied (epoch seconds), None before any."""
        return None if self.max_us == _NO_US else self.max_us / 1_000_000

    def settle(self) -> None:
        """Finish the groups' deferred work (once per batch; reads call it too)."""
        for group in self.groups:
            group.settle()
            for key in group.take_forgotten():
                self._forget(group, key)
            store = self.frozen.get(group.key_field)
            before = None if store is None else group.idle_before()
            if store is not None and before is not None:  # the frozen keys gone idle
                for key in store.tagged_before(before):
                    self._forget(group, key, before)

    def _forget(self, group: KpiGroup[Any], key: str, before: int | None = None) -> None:
        """Drop ``group``'s slice of an idle key, and the key itself when no other group
        holds a slice of it (its counts move to the partition's forgotten counts).
        ``before``: a frozen key tagged before that day (its slice is dropped only when
        the group's :meth:`KpiGroup.idle_day` of it is before it too)."""
        key_field = group.key_field
        states = self.keys[key_field]
        state = states.get(key)
        if state is None:
            state = self._take_frozen(key_field, key)
        layout = self.layouts[key_field]
        cell = layout.slice_cell(group.name)
        if state is None or state[cell] is None:
            return
        if before is not None:
            idle = group.idle_day(state[cell])
            if idle is None or idle >= before:  # another group's idle day tagged it
                self._keep_frozen(key_field, key, state)
                return
        slice_, state[cell] = state[cell], None
        group.forget(key, slice_)
        if any(s is not None for s in state[: len(layout.groups)]):
            if not state.dirty:
                state.dirty = True
                marks = self.changed_keys.get(key_field)
                if marks is None:
                    self.changed.append(state)
                else:
                    marks[state.key] = None
            return
        del states[key]  # a change still listed in ``changed`` is skipped: not in ``keys``
        self.forgotten_counts.update(state.count_map())
        self.forgotten_duplicates += state.duplicates
        self.gone[key_field].add(key)

    # -- persistence ----------------------------------------------------------
    def take_dirty(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """(store key, record) of the keys changed since the last call (coalesced), and
        (store key, None) for the keys forgotten since (to delete)."""
        self.settle()
        changed, self.changed = self.changed, []
        dirty: dict[str, set[str]] = {f: set() for f in KEY_FIELDS}
        for state in changed:
            state.dirty = False
            field = state.layout.field
            if self.keys[field].get(state.key) is state:
                dirty[field].add(state.key)
        for field, marks in self.changed_keys.items():
            states = self.keys[field]
            store = self.frozen[field]
            for key in marks:
                found = states.get(key)
                if found is not None:
                    found.dirty = False
                    dirty[field].add(key)
                elif key in store:  # frozen since it changed: the frozen form has it
                    dirty[field].add(key)
            marks.clear()
        gone, self.gone = self.gone, {f: set() for f in KEY_FIELDS}
        for key_field in sorted(gone):
            for key in sorted(gone[key_field] - dirty[key_field]):
                yield store_key(key_field, key), None
        for key_field in sorted(dirty):
            states = self.keys[key_field]
            layout = self.layouts[key_field]
            cells = [
                (g, layout.slice_cell(g.name)) for g in self.groups if g.key_field == key_field
            ]
            freezes = key_field in self.freezers
            for key in sorted(dirty[key_field]):
                kept = states.get(key)
                thawed = kept is not None
                if kept is None:
                    kept = self.state(key_field, key)  # frozen since it changed
                if kept is None:  # forgotten by a read between two records (a worker's
                    continue  # requests run while it sends them): the next call deletes it
                slices = {g.name: g.dump(s) for g, cell in cells if (s := kept[cell]) is not None}
                yield store_key(key_field, key), kept.to_record(self.partition, slices)
                if freezes and thawed and states.get(key) is kept:  # settled: frozen until
                    self._keep_frozen(key_field, key, kept)  # its next event
            if freezes:  # and the unchanged ones thawed since (by a redelivered event)
                hot = self.thawed[key_field]
                for key in hot:
                    found = states.get(key)
                    if found is not None:
                        self._keep_frozen(key_field, key, found)
                hot.clear()

    def drain_outbox(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Records the groups want published (topic role, key, value); clears them."""
        self.settle()
        out: list[tuple[str, str, dict[str, Any]]] = []
        for group in self.groups:
            if group.outbox:
                out.extend(group.outbox)
                group.outbox.clear()
        return out

    def meta_record(self) -> dict[str, Any]:
        """Partition-level state: rejections, handled offsets, forwarded copies, and the
        counts of forgotten keys."""
        record: dict[str, Any] = {
            "p": self.partition,
            "r": dict(self.rejected),
            "o": dict(self.offsets),
        }
        if self.forwards:
            record["f"] = dict(self.forwards)
        if self.forgotten_counts or self.forgotten_duplicates:
            record["fc"] = dict(self.forgotten_counts)
            record["fd"] = self.forgotten_duplicates
        return record

    def load_meta(self, record: dict[str, Any]) -> None:
        self.rejected = Counter(record.get("r", {}))
        self.offsets = dict(record.get("o", {}))
        self.forwards = dict(record.get("f", {}))
        self.forgotten_counts = Counter(record.get("fc", {}))
        self.forgotten_duplicates = int(record.get("fd", 0))
        for kind, n in self.forgotten_counts.items():
            self.type_counts[kind] = self.type_counts.get(kind, 0) + n
        self.duplicates += self.forgotten_duplicates

    def load_key(self, name: str, record: dict[str, Any]) -> None:
        """Add a recovered key's state (from the changelog; ``name`` is its store key)."""
        key_field, _, key = name.partition(STORE_SEPARATOR)
        states = self.keys.get(key_field)
        if states is None:
            raise ValueError(f"no topic is keyed by {key_field!r} (store key {name!r})")
        layout = self.layouts[key_field]
        state = states[key] = KeyState.from_record(layout, key, record)
        for kind, n in state.count_map().items():
            self.type_counts[kind] = self.type_counts.get(kind, 0) + n
        self.duplicates += state.duplicates
        slices = record.get("g", {})
        for group in self.groups:
            if group.name in slices and group.key_field == key_field:
                slice_ = group.load(slices[group.name])
                state[layout.slice_cell(group.name)] = slice_
                group.attach(key, slice_)
        if key_field in self.freezers:
            self._keep_frozen(key_field, key, state)

    # -- reads ----------------------------------------------------------------
    def context(self, as_of: datetime) -> ReadContext:
        return ReadContext(as_of, self.tz)

    def group_states(self, group: KpiGroup[Any]) -> dict[str, Any]:
        """Key -> ``group``'s state, for the keys (of its key field) that have one."""
        field = group.key_field
        cell = self.layouts[field].slice_cell(group.name)
        out: dict[str, Any] = {}
        for k, state in self.key_states(field):
            if state[cell] is not None:
                out[k] = state[cell]
        return out

    def describe(self, account_id: str, as_of: datetime) -> dict[str, Any] | None:
        """JSON view of one account (None when unknown to this partition)."""
        return self.describe_key("account_id", account_id, as_of)

    def describe_key(self, key_field: str, key: str, as_of: datetime) -> dict[str, Any] | None:
        """JSON view of one key of ``key_field`` (every group's ``describe`` of its slice;
        None when unknown to this partition)."""
        self.settle()  # first: it may forget an idle key
        state = self.state(key_field, key)
        if state is None:
            return None
        ctx = self.context(as_of)
        view: dict[str, Any] = {key_field: key, "events": state.count_map()}
        slices = state.groups
        for group in self.groups:
            if group.name in slices and group.key_field == key_field:
                view.update(group.describe(slices[group.name], ctx))
        return view

    def summaries(
        self, as_of: datetime, key_field: str = "account_id"
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(key, the merged :meth:`KpiGroup.summary` of every group keyed by ``key_field``)
        for each key of this partition: the rows of account lists."""
        self.settle()
        ctx = self.context(as_of)
        layout = self.layouts[key_field]
        groups = [(g, layout.slice_cell(g.name)) for g in self.groups if g.key_field == key_field]
        for key, state in self.key_states(key_field):
            row: dict[str, Any] = {}
            for group, index in groups:
                slice_ = state[index]
                if slice_ is not None:
                    row.update(group.summary(slice_, ctx))
            yield key, row

    def families(self, as_of: datetime) -> list[Family]:
        """Every ``cs_*`` family as of ``as_of`` (event time)."""
        self.settle()
        events = Family("cs_events", "counter", "Accepted events by type.")
        for name in EVENT_TYPES:
            events.add(self.type_counts.get(name, 0), "_total", type=name)
        dups = Family(
            "cs_events_duplicate",
            "counter",
            "Events whose event_id was already processed (counted once).",
        )
        dups.add(self.duplicates, "_total")
        rejected = Family("cs_events_rejected", "counter", "Rejected events by reason.")
        for reason in REJECTION_REASONS:
            rejected.add(self.rejected.get(reason, 0), "_total", reason=reason)
        errors = Family(
            "cs_kpi_errors", "counter", "Events a KPI group failed to apply (a bug: see logs)."
        )
        for group in self.groups:
            errors.add(self.errors.get(group.name, 0), "_total", group=group.name)
        ctx = self.context(as_of)
        out = [events, dups, rejected, errors]
        for group in self.groups:
            states = self.group_states(group) if group.reads_states else {}
            out.extend(group.families(ctx, states))
        return out

    def group(self, name: str) -> KpiGroup[Any] | None:
        """The KPI group called ``name`` (``KpiGroup.name``, e.g. "health"), None when this
        core has none: for a reader that needs a group's own read methods."""
        return next((g for g in self.groups if g.name == name), None)
