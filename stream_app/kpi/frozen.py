"""The frozen keys of one key field in one partition, packed in one byte array.

A settled key's state is one bytes object (:func:`stream_app.kpi.keystate.freeze`). Kept
in a dict, each would cost that object (its 33-byte header, rounded up by the allocator),
the key's string (~70 bytes) and the dict's slot, ~130 bytes beyond the form itself, and
100,000 small objects allocated among the fetched batches' (whose freed memory they keep
resident). :class:`FrozenStore` keeps every entry (key, form and a day tag) one after the
other in one ``bytearray``, found through an open-addressing table of entry offsets
(``array("q")``): ~20 bytes per key beyond the key's UTF-8 and the form.

An entry: ``live`` (1 byte: 0 once replaced or removed), ``tag`` (4 bytes: the day the
key went idle, see :meth:`FrozenStore.tagged_before`), the form's length (4 bytes), the
key's length (2 bytes), the key, the form; little-endian (a lookup compares the key's
length and bytes in one ``startswith``). A replaced or removed entry
stays in the array until the dead bytes outweigh the live ones: then the live entries are
copied to a new array (in the same order), so the bytes kept are at most about twice the
live ones and each byte is copied once per its own weight in churn.

The table is probed linearly from ``hash(key)``; a removed key leaves a tombstone, and the
table is rebuilt (tombstones dropped) when live keys and tombstones fill two thirds of it.
Iteration (:meth:`items`, :meth:`tagged_before`) walks the array: the order keys were
(last) frozen in, the same in every process whatever the string hashes.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator
from typing import Final

_EMPTY: Final = 0
_TOMB: Final = -1
#: live, tag, form length, key length
_HEAD: Final = struct.Struct("<BIIH")
_HEAD_SIZE: Final = 11
_KEY_AT: Final = 9  # where the key's length starts (then the key)
#: the tag of a key that never goes idle (:meth:`FrozenStore.tagged_before` skips it)
NEVER: Final = 0xFFFFFFFF
_MIN_SLOTS: Final = 8
#: dead bytes tolerated before a compaction, however few the live ones
_MIN_DEAD: Final = 4096


def _needle(kb: bytes) -> bytes:
    """What an entry of key ``kb`` holds from :data:`_KEY_AT`: its length, then itself."""
    return len(kb).to_bytes(2, "little") + kb


class FrozenStore:
    """Key (str) -> frozen form (bytes) and a day tag, packed (see the module's doc)."""

    def __init__(self) -> None:
        self.arena = bytearray()
        #: entry offset + 1 per slot (0: empty, -1: a removed key's tombstone)
        self.slots = array("q", bytes(8 * _MIN_SLOTS))
        self.mask = _MIN_SLOTS - 1
        self.live = 0  # keys held
        self.used = 0  # slots holding a key or a tombstone
        self.dead = 0  # bytes of replaced or removed entries still in the array
        #: no live key is tagged before this (a lower bound: see :meth:`tagged_before`)
        self.min_tag = NEVER

    def __len__(self) -> int:
        return self.live

    def __contains__(self, key: str) -> bool:
        return self._slot(key) >= 0

    def _probe(self, h: int, needle: bytes | None) -> int:
        """Probing from hash ``h``: the slot of the key whose :func:`_needle` is
        ``needle`` (-1 when absent); with ``needle`` None, the first free slot."""
        slots = self.slots
        mask = self.mask
        arena = self.arena
        i = h & mask
        while True:
            at: int = slots[i]
            if at == _EMPTY:
                return i if needle is None else -1
            if needle is None:
                if at == _TOMB:
                    return i
            elif at > 0 and arena.startswith(needle, at - 1 + _KEY_AT):
                return i
            i = (i + 1) & mask

    def _slot(self, key: str) -> int:
        """The slot of ``key`` (-1 when absent)."""
        kb = key.encode()
        if len(kb) > 0xFFFF:
            return -1
        return self._probe(hash(key), _needle(kb))

    def _value(self, off: int) -> bytes:
        _live, _tag, vlen, klen = _HEAD.unpack_from(self.arena, off)
        start = off + _HEAD_SIZE + klen
        return bytes(self.arena[start : start + vlen])

    def get(self, key: str) -> bytes | None:
        """The frozen form of ``key`` (None: not frozen here)."""
        i = self._slot(key)
        return None if i < 0 else self._value(self.slots[i] - 1)

    def pop(self, key: str) -> bytes | None:
        """Remove ``key`` and return its frozen form (None: not frozen here)."""
        i = self._slot(key)
        if i < 0:
            return None
        off = self.slots[i] - 1
        value = self._value(off)
        self._drop(i, off)
        return value

    def _drop(self, i: int, off: int) -> None:
        arena = self.arena
        _live, _tag, vlen, klen = _HEAD.unpack_from(arena, off)
        arena[off] = 0
        self.slots[i] = _TOMB
        self.live -= 1
        self.dead += _HEAD_SIZE + klen + vlen
        if self.dead > len(arena) - self.dead and self.dead > _MIN_DEAD:
            self._compact()

    def put(self, key: str, value: bytes, tag: int = NEVER) -> None:
        """Keep ``value`` as the frozen form of ``key`` (replacing any), tagged ``tag``."""
        kb = key.encode()
        if len(kb) > 0xFFFF:
            raise ValueError(f"a key of {len(kb)} bytes cannot be frozen")
        h = hash(key)
        needle = _needle(kb)
        i = self._probe(h, needle)
        if i >= 0:
            self._drop(i, self.slots[i] - 1)
        if (self.used + 1) * 3 > (self.mask + 1) * 2:
            self._rebuild(self.live + 1)
        arena = self.arena
        off = len(arena)
        arena += _HEAD.pack(1, tag, len(value), len(kb))
        arena += kb
        arena += value
        self._place(h, off)
        self.live += 1
        if tag < self.min_tag:
            self.min_tag = tag

    def _place(self, h: int, off: int) -> None:
        """Put the entry at ``off`` in the first free slot from ``h`` (it is not there)."""
        i = self._probe(h, None)
        if self.slots[i] == _EMPTY:
            self.used += 1
        self.slots[i] = off + 1

    def _rebuild(self, keys: int) -> None:
        """A new table for ``keys`` keys, filled from the array (tombstones dropped)."""
        size = _MIN_SLOTS
        while size < keys * 2:  # half full at most: rebuilt again past two thirds
            size *= 2
        self.slots = array("q", bytes(8 * size))
        self.mask = size - 1
        self.used = 0
        for off, _tag, key in self._walk():
            self._place(hash(key), off)

    def _compact(self) -> None:
        """Copy the live entries to a new array, in order, and index them again."""
        old = self.arena
        new = bytearray()
        unpack = _HEAD.unpack_from
        off = 0
        end = len(old)
        while off < end:
            live, _tag, vlen, klen = unpack(old, off)
            size = _HEAD_SIZE + klen + vlen
            if live:
                new += old[off : off + size]
            off += size
        self.arena = new
        self.dead = 0
        self._rebuild(self.live)

    def _walk(self) -> list[tuple[int, int, str]]:
        """(offset, tag, key) of every live entry, in order."""
        arena = self.arena
        unpack = _HEAD.unpack_from
        out: list[tuple[int, int, str]] = []
        off = 0
        end = len(arena)
        while off < end:
            live, tag, vlen, klen = unpack(arena, off)
            if live:
                start = off + _HEAD_SIZE
                out.append((off, tag, arena[start : start + klen].decode()))
            off += _HEAD_SIZE + klen + vlen
        return out

    def items(self) -> Iterator[tuple[str, bytes]]:
        """(key, frozen form) of every key, in the order they were frozen."""
        for off, _tag, key in self._walk():
            yield key, self._value(off)

    def keys(self) -> list[str]:
        """Every key, in the order they were frozen."""
        return [key for _off, _tag, key in self._walk()]

    def tagged_before(self, day: int) -> list[str]:
        """The keys tagged before ``day`` (in the order they were frozen); cheap when
        none can be (no key was put with a lower tag since the last call)."""
        if day <= self.min_tag:
            return []
        out: list[str] = []
        lowest = NEVER
        for _off, tag, key in self._walk():
            if tag < day:
                out.append(key)
            if tag < lowest:
                lowest = tag
        # the listed keys count too (if one stays, the next call lists it again); once
        # they are gone, the next call with ``day`` walks the array once more to find out
        self.min_tag = lowest
        return out
