"""Kafka's murmur2 hash of a key, compiled with mypyc (``stream_app.compiled``).

The same function as Java's ``Utils.murmur2`` read as an unsigned 32-bit value, i.e.
``aiokafka.partitioner.murmur2`` (tests/test_murmur2.py checks both paths against it over
arbitrary bytes): the default partitioner of Java's and aiokafka's producers puts a key on
``(murmur2(key) & 0x7fffffff) % partitions``.

aiokafka's pure-Python version costs ~10 us a short key (a big-int operation per step); the
arithmetic here is on ``i64`` (64-bit machine integers once compiled: every product of a
32-bit value by the 31-bit constant fits), so the compiled function costs well under a
microsecond and the worker needs no per-key cache of partitions. Run as plain Python (the
pure path) ``i64`` is ``int`` and the result is the same.
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import i64

SEED: Final = 0x9747B28C
M: Final = 0x5BD1E995
MASK: Final = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """MurmurHash2 of ``data`` as Kafka computes it, as an unsigned 32-bit int."""
    length: i64 = len(data)
    h: i64 = (SEED ^ length) & MASK
    end: i64 = length - length % 4
    i: i64 = 0
    while i < end:
        k: i64 = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * M) & MASK
        k ^= k >> 24
        k = (k * M) & MASK
        h = ((h * M) & MASK) ^ k
        i += 4
    extra: i64 = length - end
    if extra >= 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h ^= data[end]
        h = (h * M) & MASK
    h ^= h >> 13
    h = (h * M) & MASK
    h ^= h >> 15
    return int(h)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Java's / aiokafka's default partitioner gives ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
