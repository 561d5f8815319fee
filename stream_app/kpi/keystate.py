"""Per-key state: the unit that is persisted (one changelog record per key).

A key is the value of a topic's key field (``account_id`` for the account topics,
``visitor_id`` or ``source`` for others: :mod:`stream_app.contract.declared`). Its state
holds the bookkeeping common to all KPI groups (redelivery, deduplication, counts) and
each group's slice. :meth:`KeyState.admit` is the one place that decides whether an event
is new to the key.

The state is kept compact (a core may hold millions of keys): fixed-size lists indexed
by the key field's :class:`Layout` instead of dicts, containers created on first use,
and event ids remembered as 64-bit hashes (:func:`id_hash`) packed in bytes (and, for a
key with many recent events, also indexed: :class:`IdIndex`).
"""

from __future__ import annotations

import base64
import enum
import struct
import sys
from collections.abc import Iterable
from typing import Any, Final

import msgpack
from mypy_extensions import mypyc_attr
from xxhash import xxh3_64_digest

from stream_app.kpi.shared import shared_int


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REDELIVERED = "redelivered"  # already in state (worker restart): ignored silently
    REJECTED = "rejected"
    LATER = "later"  # replay only: after --as-of, not counted


#: bytes of one remembered event id: its 8-byte hash, then its day (int32, little-endian)
RECORD: Final = 12
#: a window packs its ids in bytes up to this many, then indexes them too (:class:`IdIndex`)
PACKED_MAX: Final = 64
#: one packed record: the 8-byte hash, then the day (int32, little-endian)
_RECORD_STRUCT: Final = struct.Struct("<8si")
#: the hash of :func:`id_hash` (a static of the compiled module: no lookup by name)
_DIGEST: Final = xxh3_64_digest
_LITTLE_ENDIAN: Final = sys.byteorder == "little"


def id_hash(event_id: str) -> bytes:
    """The 8-byte hash an event id is remembered by: XXH3-64 of its UTF-8 bytes, the same
    in every process and after a restart (unlike ``hash()``). Two different ids of one key
    collide with probability 2**-64 per pair: with n ids inside a key's dedupe horizon,
    the chance that any new event is wrongly taken for a duplicate is about n**2 / 2**65
    (1e-8 for a million ids in one key's window)."""
    return xxh3_64_digest(event_id.encode("utf-8", "surrogatepass"))


class Layout:
    """What the keys of one key field share: where each of its KPI groups' slices, each of
    its topic roles' :class:`Window` (three cells: latest day, oldest day, ids) and each of
    its event types' count sit in a key's :class:`KeyState` (a list of its cells, in that
    order)."""

    __slots__ = (
        "empty",
        "field",
        "groups",
        "one_role",
        "role_index",
        "roles",
        "type_index",
        "types",
    )

    def __init__(
        self, roles: Iterable[str], types: Iterable[str], groups: Iterable[str], field: str = ""
    ) -> None:
        self.field = field
        self.roles: tuple[str, ...] = tuple(roles)
        self.types: tuple[str, ...] = tuple(types)
        self.groups: tuple[str, ...] = tuple(groups)
        self.role_index = {r: i for i, r in enumerate(self.roles)}
        #: the keys' events all come from one topic role (visitors, sources): a key's
        #: highest applied offset is then a plain int, not a dict role -> offset
        self.one_role = len(self.roles) == 1
        self.type_index = {t: i for i, t in enumerate(self.types)}
        #: the cells of a new key: no slice, no window, zero counts
        self.empty: list[Any] = [None] * (len(self.groups) + 3 * len(self.roles)) + [0] * len(
            self.types
        )

    def slice_cell(self, group: str) -> int:
        return self.groups.index(group)

    def window_cell(self, role: str) -> int:
        """The first of the role's three window cells (latest day, oldest day, ids)."""
        return len(self.groups) + 3 * self.role_index[role]

    def count_cell(self, kind: str) -> int:
        return len(self.groups) + 3 * len(self.roles) + self.type_index[kind]


class IdIndex:
    """The ids of a window past :data:`PACKED_MAX`: a dict hash -> day to look them up,
    and the same (hash, day) records packed in the order they came, as a dump writes them.
    Kept side by side, so that writing a busy key's state (every commit, while its ids
    grow all day) copies its records instead of packing each again."""

    __slots__ = ("days", "packed")

    def __init__(self, records: bytes) -> None:
        #: hash -> day
        self.days: dict[bytes, int] = dict(_RECORD_STRUCT.iter_unpack(records))
        #: the records of :attr:`days`, in its order
        self.packed = bytearray(records)
        if len(self.days) * RECORD != len(records):  # a hash twice: the dict keeps one
            self.packed = bytearray(pack_records(self.days))

    def __contains__(self, h: bytes) -> bool:
        return h in self.days

    def __len__(self) -> int:
        return len(self.days)

    def add(self, h: bytes, day: int) -> None:
        days = self.days
        if h in days:  # a new day for a known hash (not on the hot path): packed again
            days[h] = day
            self.packed = bytearray(pack_records(days))
            return
        days[h] = day
        packed = self.packed
        packed += h
        packed += day_bytes(day)

    def kept(self, cutoff: int, latest: int) -> tuple[IdIndex, int]:
        """The index of the records of day ``cutoff`` or later, and the earliest such day
        (``latest`` when none is)."""
        records, oldest = _kept(bytes(self.packed), cutoff, latest)
        return IdIndex(records), oldest


def pack_records(days: dict[bytes, int]) -> bytes:
    """The (hash, day) records of ``days``, in its order."""
    return b"".join(map(_RECORD_STRUCT.pack, days.keys(), days.values()))


class Window:
    """The event ids of one topic role of a key, within the dedupe horizon of ``latest``
    (the role's latest event day): packed (hash, day) records while few, else indexed too
    (:class:`IdIndex`). ``oldest`` is the earliest day of an id kept (or ``latest`` when
    none is)."""

    __slots__ = ("ids", "latest", "oldest")

    def __init__(self, latest: int, ids: bytes | IdIndex = b"", oldest: int | None = None) -> None:
        self.latest = latest
        self.ids = ids
        if oldest is None:
            oldest = min(self.days(), default=latest) if ids else latest
        self.oldest = oldest

    def __contains__(self, h: bytes) -> bool:
        ids = self.ids
        if type(ids) is not bytes:
            return h in ids
        i = ids.find(h)
        while i > 0 and i % RECORD:  # a match across two records: look further
            i = ids.find(h, i + 1)
        return i >= 0

    def add(self, h: bytes, day: int) -> None:
        ids = self.ids
        if day < self.oldest:
            self.oldest = day
        if isinstance(ids, bytes):
            if len(ids) < PACKED_MAX * RECORD:
                self.ids = ids + h + day_bytes(day)
                return
            self.ids = ids = IdIndex(ids)
        ids.add(h, day)

    def items(self) -> Iterable[tuple[bytes, int]]:
        """(hash, day) of every remembered id."""
        ids = self.ids
        if not isinstance(ids, bytes):
            return ids.days.items()
        return [
            (ids[i : i + 8], int.from_bytes(ids[i + 8 : i + RECORD], "little", signed=True))
            for i in range(0, len(ids), RECORD)
        ]

    def days(self) -> list[int]:
        ids = self.ids
        if not isinstance(ids, bytes):
            return list(ids.days.values())
        if _LITTLE_ENDIAN:
            return memoryview(ids).cast("i")[2::3].tolist()
        return [d for _, d in self.items()]

    def forget_before(self, cutoff: int) -> None:
        """Drop the ids of days before ``cutoff``."""
        if self.oldest >= cutoff:
            return
        ids = self.ids
        if isinstance(ids, bytes):
            days = self.days()
            self.ids = b"".join(
                ids[i * RECORD : (i + 1) * RECORD] for i, d in enumerate(days) if d >= cutoff
            )
            self.oldest = min((d for d in days if d >= cutoff), default=self.latest)
        else:
            self.ids, self.oldest = ids.kept(cutoff, self.latest)

    def dump(self) -> str:
        """The records, base64 (hash, day) x n."""
        ids = self.ids
        return base64.b64encode(ids if isinstance(ids, bytes) else ids.packed).decode("ascii")

    @classmethod
    def load(cls, latest: int, text: str) -> Window:
        ids = ids_of(base64.b64decode(text))
        if isinstance(ids, bytes):
            return cls(latest, ids)
        return cls(latest, ids, min(latest, min(ids.days.values())))


def ids_of(packed: bytes) -> bytes | IdIndex:
    """A window's ids of their packed records (:meth:`Window.dump`, :func:`freeze`): the
    records themselves while few, else indexed too."""
    return packed if len(packed) <= PACKED_MAX * RECORD else IdIndex(packed)


_DAY_BYTES: Final[dict[int, bytes]] = {}


def day_bytes(day: int) -> bytes:
    """The 4 bytes of a day in a packed record (cached: most events share a few days)."""
    b = _DAY_BYTES.get(day)
    if b is None:
        if len(_DAY_BYTES) > 10_000:
            _DAY_BYTES.clear()
        b = _DAY_BYTES[day] = day.to_bytes(4, "little", signed=True)
    return b


def admit_id(cells: list[Any], cell: int, event_id: str, day: int, horizon: int) -> bool:
    """Whether ``event_id`` (of day ``day``) is new to the window of a key's state
    (:class:`KeyState`) whose three cells start at ``cell``; a new one is remembered (and
    the ids beyond ``horizon`` days of the window's latest day are forgotten when that day
    moves on). The hot part of :meth:`KeyState.admit`: the :class:`Window` of the three
    cells, inlined (the common cases), on the state as a plain list."""
    h: bytes = _DIGEST(event_id.encode("utf-8", "surrogatepass"))  # id_hash
    first: int | None = cells[cell]
    if first is None:  # the role's first event
        boxed = shared_int(day)
        cells[cell] = boxed
        cells[cell + 1] = boxed
        cells[cell + 2] = h + day_bytes(day)
        return True
    latest: int = first
    ids: bytes | IdIndex = cells[cell + 2]
    if isinstance(ids, bytes):
        # Window.__contains__ (a match may straddle two records); not ``h in ids``, which
        # first tries ``h`` as an integer (a TypeError raised and cleared each time)
        i = ids.find(h)
        while i > 0 and i % RECORD:
            i = ids.find(h, i + 1)
        if i >= 0:
            return False
    elif h in ids.days:
        return False
    oldest: int = cells[cell + 1]
    if day > latest:
        cells[cell] = shared_int(day)
        latest = day
        cutoff = day - horizon
        if oldest < cutoff:  # forget the ids beyond the horizon
            if isinstance(ids, bytes):
                ids, oldest = _kept(ids, cutoff, latest)
            else:
                ids, oldest = ids.kept(cutoff, latest)
            cells[cell + 1] = shared_int(oldest)
            cells[cell + 2] = ids
    # remembered even when older than the horizon (a late event): until the role's
    # latest day moves on, when it is forgotten with the others beyond the horizon,
    # so a copy sent right after it (a retried batch) is still known
    if day < oldest:
        cells[cell + 1] = shared_int(day)
    if isinstance(ids, bytes):  # Window.add
        if len(ids) < PACKED_MAX * RECORD:
            packed_day = _DAY_BYTES.get(day)
            if packed_day is None:
                packed_day = day_bytes(day)
            cells[cell + 2] = ids + (h + packed_day)  # one copy of ids
            return True
        ids = IdIndex(ids)
        cells[cell + 2] = ids
    ids.add(h, day)
    return True


def _kept(ids: bytes, cutoff: int, latest: int) -> tuple[bytes, int]:
    """The packed records of ``ids`` whose day is ``cutoff`` or later, and the earliest
    such day (``latest`` when none is): :meth:`Window.forget_before` in one pass over the
    records, copying each run of kept records once."""
    n = len(ids)
    runs: list[bytes] = []
    run = -1  # where the current run of kept records starts
    oldest = latest
    found = False
    i = 0
    while i < n:
        day = ids[i + 8] | ids[i + 9] << 8 | ids[i + 10] << 16 | ids[i + 11] << 24
        if day >= 0x80000000:
            day -= 0x100000000
        if day >= cutoff:
            if not found or day < oldest:
                oldest = day
                found = True
            if run < 0:
                run = i
        elif run >= 0:
            runs.append(ids[run:i])
            run = -1
        i += RECORD
    if run >= 0:
        if run == 0:
            return ids, oldest
        runs.append(ids[run:])
    return b"".join(runs), oldest


@mypyc_attr(native_class=False)  # a list subclass: mypyc compiles its methods only
class KeyState(list[Any]):
    """Bookkeeping of one key, plus each group's slice (:attr:`groups`).

    The state is the list of its cells (positions given by the key field's
    :class:`Layout`; one object per key, not a list inside an object): each
    group's slice (None before the group's first event of the key), each topic role's
    :class:`Window` of recent event ids, kept for its latest event day minus the dedupe
    horizon, spread over three cells (latest day, oldest day, ids; None before the role's
    first event: no object per window), and the count of applied events per type.
    A copy of an event has the event's type, so it travels on the same topic and
    partition: keeping the horizon per role makes deduplication independent of how the
    topics interleave on arrival.
    ``offsets`` is the highest source offset applied per topic role (worker only, else
    None): a redelivered message at or below it is already in this state.
    ``dirty``: changed since the core last collected its records.
    """

    __slots__ = ("dirty", "duplicates", "key", "layout", "offsets")

    def __init__(self, layout: Layout, key: str = "") -> None:
        self.layout = layout
        #: the key itself (one shared copy of the string, handed to the groups)
        self.key = key
        super().__init__(layout.empty)
        #: highest source offset applied per topic role (None: none yet); a plain int
        #: when the layout has one role (a 1-entry dict costs ~180 bytes a key)
        self.offsets: int | dict[str, int] | None = None
        self.duplicates = 0
        self.dirty = False

    @property
    def groups(self) -> dict[str, Any]:
        """Group name -> its slice, for the groups that have one (a read-only view)."""
        return {n: s for n, s in zip(self.layout.groups, self, strict=False) if s is not None}

    @property
    def windows(self) -> list[Window | None]:
        """The dedupe window of each topic role of the layout."""
        first = len(self.layout.groups)
        return [self.window(first + 3 * i) for i in range(len(self.layout.roles))]

    def window(self, cell: int) -> Window | None:
        """The window whose cells start at ``cell`` (None before the role's first event);
        :meth:`put_window` stores a changed one back."""
        latest = self[cell]
        return None if latest is None else Window(latest, self[cell + 2], self[cell + 1])

    def put_window(self, cell: int, window: Window) -> None:
        self[cell : cell + 3] = (shared_int(window.latest), shared_int(window.oldest), window.ids)

    def count_map(self) -> dict[str, int]:
        """Event type -> events applied (the types seen)."""
        first = len(self.layout.groups) + 3 * len(self.layout.roles)
        return {t: n for t, n in zip(self.layout.types, self[first:], strict=True) if n}

    def admit(
        self,
        cell: int,
        event_id: str,
        day: int,
        horizon: int,
        offset: int | None = None,
        role_name: str = "",
    ) -> Outcome:
        """Whether an event of the topic role whose window is at ``cell`` (named ``role_name``) is
        new to this key: REDELIVERED when its source ``offset`` is already in this state,
        DUPLICATE when its ``event_id`` was seen within ``horizon`` days of the key's
        latest day of that role (or since that day last moved on), else APPLIED (and
        remembered)."""
        if offset is not None:
            offsets = self.offsets
            if isinstance(offsets, int):  # one role
                if offset <= offsets:
                    return Outcome.REDELIVERED
                self.offsets = offset
            elif offsets is None:
                self.offsets = offset if self.layout.one_role else {role_name: offset}
            elif offset <= offsets.get(role_name, -1):
                return Outcome.REDELIVERED
            else:
                offsets[role_name] = offset
        if admit_id(self, cell, event_id, day, horizon):
            return Outcome.APPLIED
        self.duplicates += 1
        return Outcome.DUPLICATE

    def offset_map(self) -> dict[str, int]:
        """Topic role -> the highest source offset applied to this key."""
        offsets = self.offsets
        if isinstance(offsets, int):
            return {self.layout.roles[0]: offsets}
        return dict(offsets or {})

    def to_record(self, partition: int, groups: dict[str, Any]) -> dict[str, Any]:
        """Compact JSON-able form; ``groups`` holds the groups' dumped slices.

        ``h``: per role, the remembered ids (:meth:`Window.dump`); ``m``: per role, the
        latest day. (Records of earlier versions hold the ids themselves in ``s``.)"""
        roles = self.layout.roles
        windows = [(roles[i], w) for i, w in enumerate(self.windows) if w is not None]
        return {
            "p": partition,
            "h": {role: w.dump() for role, w in windows},
            "o": self.offset_map(),
            "c": self.count_map(),
            "d": self.duplicates,
            "m": {role: w.latest for role, w in windows},
            "g": groups,
        }

    @classmethod
    def from_record(cls, layout: Layout, key: str, record: dict[str, Any]) -> KeyState:
        """Bookkeeping from a record (of this or an earlier version); the caller loads
        ``record["g"]`` through the groups and puts them in :attr:`slices`."""
        state = cls(layout, key)
        latest = record.get("m", {})
        for role, text in record.get("h", {}).items():
            state.put_window(layout.window_cell(role), Window.load(int(latest[role]), text))
        for role, ids in record.get("s", {}).items():  # ids as strings: an earlier version
            window = Window(int(latest.get(role, max(ids.values(), default=0))))
            for event_id, day in ids.items():
                window.add(id_hash(event_id), int(day))
            state.put_window(layout.window_cell(role), window)
        if record.get("o"):
            offsets = {role: int(o) for role, o in record["o"].items()}
            one = layout.roles[0] if layout.one_role else None
            state.offsets = offsets[one] if one is not None and list(offsets) == [one] else offsets
        for kind, n in record.get("c", {}).items():
            if kind in layout.type_index:
                state[layout.count_cell(kind)] = int(n)
        state.duplicates = int(record.get("d", 0))
        return state


#: one packer for every frozen state (msgpack.packb makes a new one per call)
_FREEZER: Final = msgpack.Packer()


def freeze(state: KeyState, slices: list[Any]) -> bytes:
    """A settled key's whole state as one bytes object (what a core keeps, instead of the
    state's objects, for a key of a field whose groups all can: see
    :meth:`KpiGroup.freeze`): a msgpack list of the offsets, the duplicates, the window
    and count cells (an indexed window's ids as their packed records) and ``slices`` (the
    groups' frozen slices, None for a group without one). In-process only: a group's
    frozen slice may refer to the process's tables. :func:`thaw` undoes it."""
    layout = state.layout
    first = len(layout.groups)
    out: list[Any] = [state.offsets, state.duplicates]
    out.extend(state[first:])
    for i in range(len(layout.roles)):
        ids = out[2 + 3 * i + 2]
        if ids is not None and not isinstance(ids, bytes):
            out[2 + 3 * i + 2] = bytes(ids.packed)
    out.extend(slices)
    packed: bytes = _FREEZER.pack(out)
    return packed


def thaw(layout: Layout, key: str, frozen: bytes) -> tuple[KeyState, list[Any]]:
    """The state of :func:`freeze` (clean, its slices empty), and the frozen slices."""
    raw: list[Any] = msgpack.unpackb(frozen)
    state = KeyState(layout, key)
    state.offsets = raw[0]
    state.duplicates = raw[1]
    first = len(layout.groups)
    n = len(layout.empty) - first
    for i in range(len(layout.roles)):
        c = 2 + 3 * i
        latest = raw[c]
        if latest is not None:
            raw[c] = shared_int(latest)
            raw[c + 1] = shared_int(raw[c + 1])
            raw[c + 2] = ids_of(raw[c + 2])
    state[first:] = raw[2 : 2 + n]
    return state, raw[2 + n :]
