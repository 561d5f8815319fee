"""A busy key's remembered event ids, written to the changelog in sealed chunks.

A key's record holds the ids of its dedupe horizon (``h``: per topic role, base64 of
12-byte records in the order they came, :meth:`stream_app.kpi.keystate.Window.dump`).
Written whole at every commit, an account receiving events all day would write a record
that grows with every event (94 events/s: 22 KB after 20 s; 100,000 ids in the horizon:
1.3 MB, past the broker's default ``message.max.bytes`` of 1 MB, so the state write would
fail). So once a role's ids reach :data:`CHUNKED_FROM` characters, the record keeps only
their tail, and the full chunks of :data:`CHUNK_CHARS` characters (256 ids) before it go
to records of their own, written once:

- ``i:<generation>:<index>:<role>:<store key>`` -> ``{"p": partition, "i": text}``;
- the key's record says which: ``"hc": {role: [generation, chunks]}``, and ``h[role]`` is
  the tail (the ids after the chunks).

A commit writes the chunks completed since the last one, then the record. When ids before
the tail change (the horizon drops a day, a known id gets a new day), every chunk is
written again under the next generation, and the previous generation's chunks are
deleted (tombstones) after the record that stops naming them: a worker that dies between
two writes leaves a record whose chunks are all there. Chunks that no record names (left
by such a death) are deleted by the next state write of their partition.

The core never sees chunks: the record is whole again when it is loaded
(:meth:`IdChunks.join`), so a record of this version loads as one written whole did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from xxhash import xxh3_64_intdigest

log = logging.getLogger(__name__)

#: characters of base64 in one chunk: 256 ids of 12 bytes (3,072 bytes, a multiple of 3:
#: a chunk's text ends on an id). A commit rewrites at most this much of a busy key's
#: ids (the tail), ~2 KB on average, however many its horizon holds.
CHUNK_CHARS = 4096
#: a role's ids are chunked from this many characters of base64 (512 ids)
CHUNKED_FROM = 2 * CHUNK_CHARS
CHUNK_PREFIX = b"i:"

Write = tuple[int, bytes, bytes | None]  # (changelog partition, key, value; None: delete)
#: (generation, hashes of the chunks written): what the changelog holds for one role
Written = tuple[int, list[int]]
Encode = Callable[[Mapping[str, Any]], bytes]


def chunk_key(store_key: bytes, role: str, generation: int, index: int) -> bytes:
    return CHUNK_PREFIX + f"{generation}:{index}:{role}:".encode() + store_key


def parse_chunk_key(key: bytes) -> tuple[bytes, str, int, int]:
    """(store key, role, generation, index) of a chunk's key."""
    generation, index, role, store_key = key[len(CHUNK_PREFIX) :].split(b":", 3)
    return store_key, role.decode(), int(generation), int(index)


def _hashes(text: str, count: int) -> list[int]:
    data = memoryview(text.encode("ascii"))
    return [xxh3_64_intdigest(data[j * CHUNK_CHARS : (j + 1) * CHUNK_CHARS]) for j in range(count)]


class IdChunks:
    """What the changelog holds of each chunked key of one partition, to write only the
    chunks it lacks (rebuilt by :meth:`join` when the partition is loaded)."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        #: store key -> role -> what its chunks in the changelog are
        self.written: dict[bytes, dict[str, Written]] = {}
        #: chunk keys no record names (found at load): deleted by the next write
        self.orphans: list[bytes] = []

    def split(self, key: bytes, record: Mapping[str, Any] | None, encode: Encode) -> list[Write]:
        """The changelog writes of ``record`` (None: the key is forgotten), each record
        made by ``encode``: the chunks it lacks, the record itself, then deletions of
        chunks no longer named."""
        p = self.partition
        known = self.written.get(key, {})
        if record is None:
            self.written.pop(key, None)
            return [(p, key, None)] + [
                w for role, (g, old) in known.items() for w in self._deletes(key, role, g, old)
            ]
        ids: Mapping[str, str] = record.get("h") or {}
        if not known and not any(len(text) >= CHUNKED_FROM for text in ids.values()):
            return [(p, key, encode(record))]  # the common case: whole
        tails = dict(ids)
        named: dict[str, list[int]] = {}
        before: list[Write] = []
        after: list[Write] = []
        now: dict[str, Written] = {}
        for role, text in ids.items():
            g, old = known.get(role, (-1, []))
            if len(text) < CHUNKED_FROM:
                if old:  # no longer chunked (the horizon dropped days)
                    after += self._deletes(key, role, g, old)
                    now[role] = (g, [])
                continue
            count = len(text) // CHUNK_CHARS
            hashes = _hashes(text, count)
            if g < 0 or hashes[: len(old)] != old:  # ids before the tail changed
                after += self._deletes(key, role, g, old)
                g, old = g + 1, []
            for j in range(len(old), count):
                chunk = text[j * CHUNK_CHARS : (j + 1) * CHUNK_CHARS]
                before.append((p, chunk_key(key, role, g, j), encode({"p": p, "i": chunk})))
            tails[role] = text[count * CHUNK_CHARS :]
            named[role] = [g, count]
            now[role] = (g, hashes)
        for role, (g, old) in known.items():
            if role not in ids:  # the role's ids are gone
                after += self._deletes(key, role, g, old)
        self.written[key] = now
        whole = {**record, "h": tails, "hc": named} if named else {**record, "h": tails}
        return [*before, (p, key, encode(whole)), *after]

    def _deletes(self, key: bytes, role: str, generation: int, written: list[int]) -> list[Write]:
        """Deletions of the chunks of a generation of ``key``'s ``role``."""
        return [
            (self.partition, chunk_key(key, role, generation, j), None) for j in range(len(written))
        ]

    def join(
        self, key: bytes, record: dict[str, Any], chunks: dict[tuple[bytes, str, int, int], str]
    ) -> dict[str, Any]:
        """``record`` as written whole (its chunks taken out of ``chunks``), and what the
        changelog holds of it noted for the next writes."""
        named = record.pop("hc", None)
        if not named:
            return record
        ids = record.setdefault("h", {})
        written: dict[str, Written] = {}
        for role, (g, count) in named.items():
            parts = [chunks.pop((key, role, g, j), None) for j in range(count)]
            missing = sum(part is None for part in parts)
            if missing:  # not written by this version: a lost chunk loses its ids only
                log.warning("%d id chunks of %r (%s) missing", missing, key, role)
            text = "".join(part or "" for part in parts)
            # with a chunk missing, the rest no longer sit where the record says: hashes
            # no chunk has (xxh3 gives unsigned ints), so the next write starts a new
            # generation and deletes every chunk of this one
            written[role] = (g, [-1] * count if missing else _hashes(text, count))
            ids[role] = text + ids.get(role, "")
        self.written[key] = written
        return record

    def orphaned(self, chunks: Mapping[tuple[bytes, str, int, int], str]) -> None:
        """Chunks left in the changelog that no record named: deleted by the next write."""
        self.orphans += [chunk_key(k, role, g, j) for (k, role, g, j) in chunks]

    def take_orphans(self) -> list[Write]:
        """Deletions of the chunks no record named when the partition was loaded (written
        before any key's records: a chunk written again after them stays)."""
        orphans, self.orphans = self.orphans, []
        return [(self.partition, k, None) for k in orphans]
