"""The worker's partition-local state: one core per owned partition, persisted to a
Faust table whose changelog is written with the *source* partition of each account.

The Faust store (memory) is recovery's staging area only: Faust's changelog recovery fills
it, :meth:`PartitionStates.assign` loads each owned partition's records into its core and
then drops them from the store (:meth:`PartitionStates.release`), and state flushes go to
the changelog only. The core is the one in-memory copy of a key's state (the store used
to keep an LZ4 copy of every record too: ~57 MB per 100k web visitors). Because the store
no longer holds what a partition kept across a rebalance had, the state table reports no
persisted offset (:class:`stream_app.worker.app.StateTable`), so Faust's recovery reads
every assigned changelog partition from its start at each rebalance, as a new process
does, instead of only the records written since its last recovery.

Record layout in the table (LZ4-compressed JSON, :func:`encode`): ``<key field>:<key>`` (e.g.
``account_id:acme``, :func:`stream_app.kpi.core.store_key`) -> that key's record,
``m:<partition>`` -> partition meta (rejections, handled offsets), and ``i:...`` -> a
sealed chunk of a busy key's event ids (:mod:`stream_app.worker.id_chunks`). A batch
writes its changed keys first (a key's new id chunks before its record) and the meta
last, to the same changelog partition, so a recovered meta never claims offsets whose key
records are missing.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import cramjam
import orjson

from stream_app.kpi.core import PartitionCore
from stream_app.kpi.settings import KpiSettings
from stream_app.worker.id_chunks import CHUNK_PREFIX, IdChunks, Write, parse_chunk_key

log = logging.getLogger(__name__)

META_PREFIX = b"m:"


#: first byte of a record in the current format: LZ4 (block, uncompressed size stored) of
#: the record's JSON. Earlier formats, still read: zlib of the JSON (first byte 0x78, up
#: to v1.1) and plain JSON (``{``).
LZ4_TAG = b"\x04"
ZLIB_TAG = b"\x78"


def encode(record: Mapping[str, Any]) -> bytes:
    """A record as written to the changelog: LZ4-compressed JSON behind :data:`LZ4_TAG`
    (account records shrink ~1.4x; ~5x cheaper to write than zlib level 1, which costs
    ~40 us a record, and ~2x cheaper to read back)."""
    return LZ4_TAG + bytes(cramjam.lz4.compress_block(orjson.dumps(record)))


def decode(raw: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode`; the earlier formats (zlib-compressed JSON, plain JSON)
    too."""
    first = raw[:1]
    if first == LZ4_TAG:
        data: Any = cramjam.lz4.decompress_block(memoryview(raw)[1:])
    elif first == ZLIB_TAG:
        data = zlib.decompress(raw)
    else:
        data = raw
    record: dict[str, Any] = orjson.loads(memoryview(data) if first == LZ4_TAG else data)
    return record


def meta_key(partition: int) -> bytes:
    return META_PREFIX + str(partition).encode()


class PartitionStates:
    """Cores of the partitions this worker owns, rebuilt from table data on assignment."""

    def __init__(self, settings: KpiSettings, store: Any) -> None:
        self.settings = settings
        self.store = store  # the Faust store (``table.data``): a MutableMapping of bytes
        self.cores: dict[int, PartitionCore] = {}
        #: per owned partition, the id chunks its keys have in the changelog
        self.chunks: dict[int, IdChunks] = {}

    def owned(self) -> list[PartitionCore]:
        return [self.cores[p] for p in sorted(self.cores)]

    def core(self, partition: int) -> PartitionCore:
        core = self.cores.get(partition)
        if core is None:
            core = self.cores[partition] = self._load({partition})[partition]
            self.release({partition})
        return core

    def assign(self, partitions: Iterable[int]) -> None:
        """Own exactly ``partitions``: drop the others, load the new ones from the store."""
        wanted = set(partitions)
        for p in set(self.cores) - wanted:
            del self.cores[p]
            self.chunks.pop(p, None)
        missing = wanted - set(self.cores)
        if missing:
            self.cores.update(self._load(missing))
            log.info("loaded state of partitions %s", sorted(missing))
        self.release(set(self.cores))

    def release(self, partitions: set[int]) -> None:
        """Drop the store's records of ``partitions``: their cores hold that state (see
        the module). Faust's memory store knows each recovered key's partition."""
        data = getattr(self.store, "data", None)
        key_partition = getattr(self.store, "_key_partition", None)
        if not isinstance(data, dict) or not isinstance(key_partition, dict):
            return  # not Faust's memory store (a plain mapping in tests): nothing to drop
        for key in [k for k, p in key_partition.items() if p in partitions]:
            data.pop(key, None)
            del key_partition[key]

    def revoke(self, partitions: Iterable[int]) -> None:
        for p in partitions:
            self.cores.pop(p, None)
            self.chunks.pop(p, None)

    def _load(self, partitions: set[int]) -> dict[int, PartitionCore]:
        cores = {p: PartitionCore(self.settings, p) for p in partitions}
        found: dict[int, dict[tuple[bytes, str, int, int], str]] = {p: {} for p in partitions}
        items = list(self.store.items())
        for key, raw in items:  # the id chunks first: a record is whole when loaded
            if raw is not None and key.startswith(CHUNK_PREFIX):
                chunk = decode(raw)
                if chunk.get("p", -1) in found:
                    found[chunk["p"]][parse_chunk_key(key)] = chunk["i"]
        for p in partitions:
            self.chunks[p] = IdChunks(p)
        for key, raw in items:
            if raw is None or key.startswith(CHUNK_PREFIX):
                continue
            record = decode(raw)
            p = record.get("p", -1)
            core = cores.get(p)
            if core is None:
                continue
            if key.startswith(META_PREFIX):
                core.load_meta(record)
            else:
                record = self.chunks[p].join(key, record, found[p])
                try:
                    core.load_key(key.decode(), record)
                except ValueError as exc:  # a record of a layout this version does not know
                    log.warning("state record skipped: %s", exc)
        for p in partitions:
            self.chunks[p].orphaned(found[p])
        return cores

    def persist(self, partitions: Iterable[int]) -> list[Write]:
        """Store changed keys, then each partition's meta; return the changelog writes
        (in this order) for the shell to send."""
        return [w for p in partitions for w in self.writes(p)]

    def writes(self, partition: int) -> Iterator[Write]:
        """:meth:`persist` of one partition, one write at a time: a shell that sends each
        before taking the next holds one encoded record at a time, not every changed
        key's (a backlog's commit writes tens of thousands; held at once, the memory they
        took stayed resident: ~7 MB per 100,000 visitors)."""
        core = self.cores.get(partition)
        if core is None:
            return
        chunks = self.chunks.get(partition)
        if chunks is None:
            chunks = self.chunks[partition] = IdChunks(partition)
        yield from chunks.take_orphans()
        for name, record in core.take_dirty():
            yield from chunks.split(name.encode(), record, encode)
        # nothing is kept in the store: the core holds the state
        yield partition, meta_key(partition), encode(core.meta_record())
