"""The contract partition of a message, and forwarding what landed elsewhere.

State is partition-local: every event of a key (an account, a visitor, a source) must be
applied by the owner of one partition, the *contract partition* of the key:
``murmur2(key) & 0x7fffffff % partitions``, what Java's and aiokafka's default
partitioners (and librdkafka's ``murmur2_random``) give. Another partitioner (librdkafka's
default ``consistent_random`` hashes with CRC32) puts most keys elsewhere, which would
split a key's state across partitions. So the worker checks every message: one that
landed on another partition is forwarded to its contract partition of the same topic
(same key, value, headers and timestamp, plus :data:`HEADER_FORWARDED_FROM`) and not
applied where it landed.

The key is the message key; a message without one is routed by its value's key field
(:data:`stream_app.contract.TOPIC_BY_ROLE`), and one whose value has no usable key field
stays where it is (the core rejects it there). The check hashes each distinct key of a
batch once: with the compiled :mod:`stream_app.murmur2` that costs ~0.1 us a key, less than
a dict lookup in a cache of partitions (which held ~12 MB per 100k keys), so nothing is
cached; on the pure-Python path (~5 us a key) partitions are cached per key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

import stream_app.murmur2
from stream_app.murmur2 import partition_of

#: header of a forwarded copy: ``<partition>:<offset>`` where the original landed. The
#: contract partition of a copy's key is where the copy was sent, so a copy is only ever
#: off it after the topic's partition count changed: such a stale copy is dropped (its
#: original, where it first landed, is forwarded again under the new count)
HEADER_FORWARDED_FROM = "cs-forwarded-from"

#: distinct keys whose partition is cached (per partition count), on the pure-Python path
#: only; cleared when full
CACHE_SIZE = 200_000

#: True when the hash runs as plain Python (no current compiled build): then it is cached
PURE_HASH = (stream_app.murmur2.__file__ or "").endswith(".py")


def contract_partition(key: bytes, partitions: int) -> int:
    """The partition Java's / aiokafka's default partitioner gives ``key``
    (:mod:`stream_app.murmur2`)."""
    return partition_of(key, partitions)


def key_from_value(value: bytes | None, field: str) -> bytes | None:
    """The key field of a JSON event, as key bytes; None if there is no usable one."""
    if not value:
        return None
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    key = event.get(field) if isinstance(event, dict) else None
    return key.encode("utf-8") if isinstance(key, str) and key else None


def forwarded_from(headers: Sequence[tuple[str, bytes]] | None) -> tuple[int, int] | None:
    """The origin (partition, offset) of a forwarded copy; None for an original (or a
    header this worker did not write)."""
    for name, value in headers or ():
        if name == HEADER_FORWARDED_FROM:
            partition, _, offset = value.partition(b":")
            if partition.isdigit() and offset.isdigit():
                return int(partition), int(offset)
            return None
    return None


@dataclass(frozen=True)
class Forward:
    """A record to send to ``partition`` of its own topic, with ``headers``."""

    record: Any
    partition: int
    headers: list[tuple[str, bytes]]


class PartitionRouter:
    """Splits a fetched record list into those that belong to their partition and those
    to forward (:class:`Forward`)."""

    def __init__(self, key_fields: Mapping[str, str], cached: bool = PURE_HASH) -> None:
        self.key_fields = dict(key_fields)  # topic role -> its key field
        self._cache: dict[int, dict[bytes, int]] = {}
        if not cached:  # the compiled hash: cheaper than the cache, and no memory per key
            self.partition_of = partition_of  # type: ignore[method-assign]

    def partition_of(self, key: bytes, partitions: int) -> int:
        """``key``'s contract partition (cached per key: the pure-Python path)."""
        cache = self._cache.get(partitions)
        if cache is None:
            cache = self._cache[partitions] = {}
        p = cache.get(key)
        if p is None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            p = cache[key] = contract_partition(key, partitions)
        return p

    def split(
        self, role: str, partition: int, partitions: int, records: Sequence[Any]
    ) -> tuple[Sequence[Any], list[Forward], int]:
        """(records that belong to ``partition``, forwards, stale copies dropped), in
        offset order."""
        keys = {r.key for r in records}
        wrong: set[bytes | None] = set()
        for key in keys:
            if key is None:
                wrong.add(None)  # decided per record, from the value
            elif self.partition_of(key, partitions) != partition:
                wrong.add(key)
        if not wrong:
            return records, [], 0  # the usual case: one pass over the keys, nothing copied
        field = self.key_fields[role]
        stay: list[Any] = []
        forwards: list[Forward] = []
        stale = 0
        for r in records:
            key = r.key
            if key not in wrong:
                stay.append(r)
                continue
            if key is None:
                key = key_from_value(r.value, field)
                if key is None or self.partition_of(key, partitions) == partition:
                    stay.append(r)
                    continue
            headers = list(r.headers or ())
            if any(name == HEADER_FORWARDED_FROM for name, _ in headers):
                stale += 1
                continue
            headers.append((HEADER_FORWARDED_FROM, f"{partition}:{r.offset}".encode()))
            forwards.append(Forward(r, self.partition_of(key, partitions), headers))
        return stay, forwards, stale
