"""Record batches the worker cannot decode (a codec it lacks, a corrupt batch): reported,
never a crash.

aiokafka decodes (decompresses, checks CRCs of) a fetched partition's record batches when
the consumer takes them (``FetchResult.getall``); an exception there propagates out of
``getmany`` for *every* partition of the fetch and, in Faust, crashes the worker, which a
supervisor then restarts onto the same batch forever. :func:`catching` makes that step
partition-local for the fetches made inside it: the records decoded before the bad batch
are returned, the partition is paused at the bad batch (its position stays there, so
nothing is skipped) and a :class:`FetchError` is recorded; the other partitions go on.
The worker retries the paused partition after :data:`RETRY_S` (a corrupt batch may read
fine on the next fetch; a missing codec needs a fix and a restart) and reports each
failed attempt (log, ``cs_fetch_errors_total{topic, reason}``, the ``FetchErrors`` alert).

Outside :func:`catching` (other aiokafka consumers of the process), aiokafka behaves as
before. This relies on aiokafka 0.14's ``FetchResult`` (pinned in ``pyproject.toml``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiokafka import errors as kafka_errors
from aiokafka.consumer.fetcher import FetchResult

#: seconds before a partition paused on an undecodable batch is fetched again
RETRY_S = 30.0

#: the ``reason`` label of ``cs_fetch_errors_total`` (a fixed set: every one is exported)
REASONS = ("unsupported_codec", "corrupt_batch", "undecodable")


@dataclass(frozen=True)
class FetchError:
    """A batch of ``topic``/``partition`` at ``offset`` that could not be decoded."""

    topic: str
    partition: int
    offset: int
    reason: str
    detail: str


def reason_of(exc: BaseException) -> str:
    """The ``reason`` label of a decoding failure."""
    if isinstance(exc, kafka_errors.UnsupportedCodecError):
        return "unsupported_codec"
    if isinstance(exc, kafka_errors.CorruptRecordException):
        return "corrupt_batch"
    return "undecodable"


_sink: ContextVar[list[FetchError] | None] = ContextVar("cs_fetch_errors", default=None)
_original_getall = FetchResult.getall


def _getall(self: Any, max_records: int | None = None) -> list[Any]:
    """``FetchResult.getall`` that, inside :func:`catching`, turns a decoding failure into
    a :class:`FetchError`: the records decoded before it, and the partition paused."""
    sink = _sink.get()
    if sink is None:
        return _original_getall(self, max_records)
    tp = self._topic_partition
    if not self.check_assignment(tp) or not self.has_more():
        return []
    records = self._partition_records
    out: list[Any] = []
    try:
        for msg in records:
            out.append(msg)
            if max_records is not None and len(out) >= max_records:
                self._update_position()
                return out
    except Exception as exc:
        # consumed up to the bad batch (exclusive): it is fetched again when resumed
        self._update_position()
        self._partition_records = None
        self._assignment.state_value(tp).pause()
        sink.append(
            FetchError(tp.topic, tp.partition, records.next_fetch_offset, reason_of(exc), repr(exc))
        )
        return out
    self._update_position()
    self._partition_records = None
    return out


FetchResult.getall = _getall


@contextlib.contextmanager
def catching(errors: list[FetchError]) -> Iterator[None]:
    """Fetches made in this context record decoding failures in ``errors``."""
    token = _sink.set(errors)
    try:
        yield
    finally:
        _sink.reset(token)
