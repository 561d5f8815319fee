"""The consumer-level batch loop: each fetched record list of a source partition goes to
the core at once, and its offsets are acknowledged in bulk afterwards.

Faust's per-message delivery path (conductor -> channel -> stream -> ack) costs ~90 us a
message; this replaces ``Consumer._drain_messages`` of Faust's aiokafka driver for the
source topics only. Everything else (group membership, assignment, recovery, commits,
changelogs and other topics) keeps Faust's normal path. It relies on private attributes
of faust-streaming 0.15.3 (``_wait_next_records``, ``_read_offset``, ``_new_offset``,
``_filter_tps_with_pending_acks``, ``_committed_offset``, ``_add_gap``), which is why that
version is pinned and the kill -9 / rebalance tests guard it.

A source partition's acknowledgement is one number, the offset to commit next (one past
the last record applied): the loop applies a partition's records in order, so everything
before it is applied (offsets the fetch skipped are compaction or transaction-marker
gaps, as Faust's ``_add_gap`` would have filled). Faust's per-message bookkeeping (every
offset in a list and a set until the commit sorts and walks them) stays for changelogs
and other topics.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import faust
from aiokafka.consumer.fetcher import FetchResult
from faust.exceptions import ProducerSendError
from faust.transport.consumer import CONSUMER_COMMITTING, CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

from stream_app.worker.fetch_errors import RETRY_S, FetchError, catching

#: a commit (which writes every account changed since the previous one) waits at least
#: this many times as long as the previous one took: while a backlog is applied, state
#: writes take at most ~1/FLUSH_SHARE of the time; live, they are small and come once per
#: commit interval. Skipping a commit is always safe: offsets and state move together.
FLUSH_SHARE = 10

#: a fetched record list (up to ~1 MB of a partition, thousands of records) is applied in
#: chunks of at most this many records, and the event loop runs between two chunks: the
#: records of a chunk show in ``/progress`` and ``/metrics`` once it is applied, not once
#: the whole fetch is, and a request or a commit waits for one chunk (~10 ms), not for
#: the whole fetch (up to a few hundred ms on a loaded machine)
APPLY_CHUNK = 500

#: applies one record list (aiokafka's decoded records: ``offset``, ``timestamp``,
#: ``key``, ``value``, ``headers``, no ``topic``/``partition``); returns False when it did
#: not (the worker is stopping on a fatal error): the records are then not acknowledged
RecordsHandler = Callable[[TP, Sequence[Any]], Awaitable[bool | None]]
#: one step of the state write before a commit: (source partition whose changed state it
#: writes, or None for a step that writes no partition's state; the step)
CommitStep = tuple[int | None, Callable[[], Awaitable[None]]]
#: the state write before a commit, in steps (called with no batch applied)
StateWrite = Callable[[], Sequence[CommitStep]]
StartHook = Callable[[], Awaitable[None]]
FetchErrorHook = Callable[[FetchError], None]


def _as_decoded(tp: Any, record: Any) -> Any:
    return record


class SourceResults(collections.OrderedDict[Any, Any]):
    """aiokafka's fetched results by partition (``Fetcher._records``), where a source
    partition's records come as aiokafka decoded them from the record batch: no
    ``ConsumerRecord`` (a dataclass, ~2 us and two objects a message, in the consumer
    thread) is built for each. Other topics (changelogs) get ``ConsumerRecord``s."""

    def __init__(self, topics: set[str], results: Any) -> None:
        self.topics = topics
        super().__init__()
        self.update(results)

    def __setitem__(self, tp: Any, result: Any) -> None:
        if tp.topic in self.topics and type(result) is FetchResult:
            records = result._partition_records
            if (
                records is not None
                and records._key_deserializer is None
                and records._value_deserializer is None
            ):  # read by aiokafka's _unpack_records for each record
                records._consumer_record = _as_decoded
        super().__setitem__(tp, result)


def install_batch_consumer(
    app: faust.App,
    topics: set[str],
    handler: RecordsHandler,
    write_state: StateWrite,
    fetch_max_wait_ms: int = 100,
    on_fetch_error: FetchErrorHook | None = None,
    before_start: StartHook | None = None,
) -> None:
    """Make ``app``'s consumer hand whole record lists of ``topics`` to ``handler``, and
    write the changed state to the changelog before each offset commit, one source
    partition at a time (``write_state`` gives the steps): no batch is applied between a
    partition's write and the moment its offsets to commit are taken, so a committed
    offset never runs ahead of the state its events produced. Batches are applied
    between two partitions' writes, and while the commit waits for the broker.

    A record batch that cannot be decoded (:mod:`stream_app.worker.fetch_errors`) pauses
    its partition only, and is reported to ``on_fetch_error`` (in the app's loop); the
    partition is fetched again after ``RETRY_S``. ``before_start`` runs when the consumer
    starts, before it subscribes (the producer is up): the worker declares its source
    topics there (no agent does it on this path), so that a missing one is created with
    the configured partition count and not by the broker's auto-creation (1 partition).

    Must run before the app creates its consumer (i.e. before the worker starts).
    """
    base: Any = app.transport.Consumer

    class FetchThread(AIOKafkaConsumerThread):
        #: decoding failures not yet reported (appended in this thread, taken by the app)
        fetch_errors: list[FetchError]
        #: partitions paused on a decoding failure -> when to fetch them again
        retry_at: dict[Any, float]

        def _create_consumer(self, loop: asyncio.AbstractEventLoop) -> Any:
            consumer = super()._create_consumer(loop)
            # Faust hard-codes fetch_max_wait_ms=1500: a fetch in flight for quiet
            # partitions then holds back the busy ones (whose data was just taken) for
            # up to 1.5 s, which is most of the delay to /metrics under light load
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            self.fetch_errors = []
            self.retry_at = {}
            return consumer

        async def _fetch_records(
            self,
            consumer: Any,
            active_partitions: Any,
            timeout: float | None = None,
            max_records: int | None = None,
        ) -> Any:
            self._retry_due(consumer)
            fetcher = consumer._fetcher
            if type(fetcher._records) is not SourceResults:  # the fetcher of this consumer
                fetcher._records = SourceResults(topics, fetcher._records)
            errors: list[FetchError] = []
            try:
                with catching(errors):
                    return await super()._fetch_records(
                        consumer, active_partitions, timeout=timeout, max_records=max_records
                    )
            finally:
                for error in errors:  # the partition is paused at the bad batch
                    tp = TP(error.topic, error.partition)
                    self.retry_at[tp] = time.monotonic() + RETRY_S
                self.fetch_errors.extend(errors)

        def _retry_due(self, consumer: Any) -> None:
            if not self.retry_at:
                return
            now = time.monotonic()
            for tp, when in list(self.retry_at.items()):
                if when > now:
                    continue
                del self.retry_at[tp]
                subscription = consumer._subscription
                if tp in self.consumer._paused_partitions or not subscription.is_assigned(tp):
                    continue  # paused by Faust itself, or no longer ours
                subscription.resume(tp)

    class BatchConsumer(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            #: source partition -> offset to commit next (one past the last applied
            #: record); forgotten when the partition is revoked
            self._source_next: dict[TP, int] = {}
            #: revocations so far: a batch fetched before one is neither applied nor
            #: acked (the generation changes only later, at the assignment)
            self._revocations = 0

        def _new_consumer_thread(self) -> Any:
            return FetchThread(self, loop=self.loop, beacon=self.beacon)

        async def on_start(self) -> None:
            if before_start is not None:
                await before_start()
            await super().on_start()

        _state_lock: asyncio.Lock | None = None
        _commit_lock: asyncio.Lock | None = None

        def _lock(self) -> asyncio.Lock:
            """Held while a batch is applied, and while a commit writes the state and
            takes the offsets it will commit."""
            if self._state_lock is None:
                self._state_lock = asyncio.Lock()
            return self._state_lock

        def _one_commit(self) -> asyncio.Lock:
            """Held for a whole commit: one at a time."""
            if self._commit_lock is None:
                self._commit_lock = asyncio.Lock()
            return self._commit_lock

        _flushed_at = 0.0  # monotonic time the last state write + commit ended
        #: how long it took: its steps and the wait for the broker, not the batches
        #: applied between two steps
        _flush_took = 0.0

        async def force_commit(
            self, topics: Any = None, start_new_transaction: bool = True
        ) -> bool:
            """Faust's ``force_commit``, with the state written first, one partition at
            a time. Each step of ``write_state`` runs with no batch applied meanwhile (the
            state lock), and a partition's offsets to commit are taken in the same hold
            as its write; batches and requests run between two steps (a write of every
            changed key at once held them back for up to a few hundred ms). Offsets of
            partitions with nothing to write are taken first. Then, with batches applied
            again: wait for the producer to deliver everything it was handed (Faust's
            ``producer.flush``) and send the offsets. What a batch applies after its
            partition's step is written and committed by the next commit (or, if the
            worker dies first, fetched again and applied from the state written here).
            A rebalance during the steps ends the commit with nothing committed: the
            partitions written so far hold state ahead of their committed offsets, which
            the state's own offsets make safe."""
            async with self._one_commit():
                async with self._lock():
                    started = time.monotonic()
                    if started - self._flushed_at < FLUSH_SHARE * self._flush_took and not (
                        self.should_stop or self.app.rebalancing
                    ):
                        return False  # catching up: state writes take at most ~1/FLUSH_SHARE
                    self.diag.set_flag(CONSUMER_COMMITTING)
                    steps = write_state()
                    epoch = self._epoch()
                    sensor_state = self.app.sensors.on_commit_initiated(self)
                    offsets = self._committable(topics)
                    written = {p for p, _ in steps if p is not None}
                    for tp in [tp for tp in offsets if self._is_source(tp, written)]:
                        del offsets[tp]  # taken with the partition's write, below
                took = time.monotonic() - started
                try:
                    for partition, step in steps:
                        async with self._lock():
                            step_started = time.monotonic()
                            if self._epoch() != epoch:
                                offsets = {}  # rebalanced: the new assignment starts over
                                break
                            await step()
                            if partition is not None:
                                offsets.update(
                                    (tp, offset)
                                    for tp, offset in self._committable(topics).items()
                                    if self._is_source(tp, {partition})
                                )
                            took += time.monotonic() - step_started
                        await asyncio.sleep(0)  # batches, requests, the next fetch
                    waited = time.monotonic()
                    result = False
                    if offsets:
                        try:
                            # messages attached to these offsets (Faust's ``send_soon``)
                            await self._handle_attached(offsets)
                        except ProducerSendError as exc:
                            await self.crash(exc)
                        else:
                            result = await self._commit_offsets(
                                offsets, start_new_transaction=start_new_transaction
                            )
                    self.app.sensors.on_commit_completed(self, sensor_state)
                finally:
                    self.diag.unset_flag(CONSUMER_COMMITTING)
                self._flushed_at = time.monotonic()
                self._flush_took = took + self._flushed_at - waited
                return result

        def _committable(self, which: Any = None) -> dict[TP, int]:
            """What Faust's ``_commit_tps`` would commit now (new offsets only)."""
            found: dict[TP, int] = self._filter_committable_offsets(
                list(self._filter_tps_with_pending_acks(which))
            )
            return found

        @staticmethod
        def _is_source(tp: TP, partitions: set[int]) -> bool:
            return tp.topic in topics and tp.partition in partitions

        async def _drain_messages(self, fetcher: Any) -> None:
            consumer_should_stop = self._stopped.is_set
            fetcher_should_stop = fetcher._stopped.is_set
            fetching: asyncio.Future[tuple[tuple[int, int], Any]] | None = None
            try:
                while not (consumer_should_stop() or fetcher_should_stop()):
                    self.diag.set_flag(CONSUMER_FETCHING)
                    if fetching is None:
                        fetching = asyncio.ensure_future(self._fetch())
                    epoch, records = await fetching
                    # fetch the next records (in the consumer thread) while these apply
                    fetching = asyncio.ensure_future(self._fetch())
                    await self.sleep(0)
                    if records is None or self.should_stop:
                        continue
                    for tp, recs in records.items():
                        if not self.flow_active or self._epoch() != epoch:
                            break  # rebalancing: the rest is fetched again by the new owner
                        r_offset = self._read_offset[tp]
                        if r_offset is not None and recs and recs[0].offset < r_offset:
                            # read before a seek (a record list is in offset order)
                            recs = [r for r in recs if r.offset >= r_offset]
                        if not recs:
                            continue
                        if tp.topic in topics:
                            await self._apply_batch(tp, recs, epoch)
                        else:
                            await self._deliver_each(tp, recs, epoch)
                    # no commit every N messages: a commit writes every changed account,
                    # so commits (and state writes) come once per commit interval
                    self.diag.unset_flag(CONSUMER_FETCHING)
                    # the applied records go now: kept until the next fetch returns, an
                    # idle worker held its last fetch (up to ``max_poll_records``)
                    records = recs = None
            except self.consumer_stopped_errors:
                if self.transport.app.should_stop:
                    return
                raise
            except asyncio.CancelledError:
                if self.transport.app.should_stop:
                    return
                raise
            except Exception as exc:
                self.log.exception("Batch drain raised: %r", exc)
                raise
            finally:
                if fetching is not None:
                    fetching.cancel()
                self.diag.unset_flag(CONSUMER_FETCHING)

        def _epoch(self) -> tuple[int, int]:
            """Changes at each rebalance: at the revocation, then at the assignment."""
            return self.app.consumer_generation_id, self._revocations

        async def _fetch(self) -> tuple[tuple[int, int], Any]:
            """The next fetched records, with the epoch when they came (a rebalance
            after that resets the positions, so they are fetched again)."""
            records, _active = await self._wait_next_records(1.0)
            errors = getattr(self._thread, "fetch_errors", None)
            while errors:
                error = errors.pop(0)
                if on_fetch_error is not None:
                    on_fetch_error(error)
            return self._epoch(), records

        async def _apply_batch(self, tp: TP, recs: Sequence[Any], epoch: tuple[int, int]) -> None:
            """Apply and acknowledge ``recs`` in chunks of at most :data:`APPLY_CHUNK`,
            letting the loop run between them."""
            chunk = APPLY_CHUNK
            for start in range(0, len(recs), chunk):
                if start:
                    await asyncio.sleep(0)  # requests, a commit, the next fetch's hand-over
                part = recs[start : start + chunk] if len(recs) > chunk else recs
                async with self._lock():
                    if self._epoch() != epoch:
                        return  # a rebalance while waiting for the lock: fetched again
                    if await handler(tp, part) is False:
                        return  # not applied (stopping): not acked
                    if self._epoch() != epoch:
                        return  # revoked meanwhile: not acked, so redelivered to the new owner
                    self._ack(tp, part)

        def _ack(self, tp: TP, recs: Sequence[Any]) -> None:
            last = recs[-1].offset
            self._source_next[tp] = last + 1  # a gap before recs[0] is covered too
            self._read_offset[tp] = last

        def _new_offset(self, tp: TP) -> int | None:
            if tp.topic in topics:  # None: nothing applied since the partition came
                return self._source_next.get(tp)
            result: int | None = super()._new_offset(tp)
            return result

        def _filter_tps_with_pending_acks(self, which: Any = None) -> Iterator[TP]:
            yield from super()._filter_tps_with_pending_acks(which)
            acked = self._acked
            for tp in list(self._source_next):  # Faust's commit skips offsets not past
                if tp in acked:  # its committed one (``_should_commit``)
                    continue  # yielded above
                if which is None or tp in which or tp.topic in which:
                    yield tp

        async def on_partitions_revoked(self, revoked: set[TP]) -> None:
            self._revocations += 1
            for tp in revoked:  # an applied range not committed yet is dropped, like
                self._source_next.pop(tp, None)  # Faust's acks: redelivered, deduped
            await super().on_partitions_revoked(revoked)

        async def _deliver_each(self, tp: TP, recs: Sequence[Any], epoch: tuple[int, int]) -> None:
            """Faust's normal per-message path (changelogs, other topics), record by
            record. As in Faust's ``getmany``, a rebalance (flow stopped, or a new epoch)
            ends the list: what is left is fetched again from where the new assignment
            seeks. A record whose delivery the rebalance cut short (``wait_first`` returns
            on ``suspend_flow``, its callback cancelled) does not move the read offset,
            which the loop's filter reads (Faust's loop moves it all the same; the seek
            that follows a rebalance resets it, so this only matters if none follows)."""
            for rec in recs:
                if not self.flow_active or self._epoch() != epoch:
                    return
                r_offset = self._read_offset[tp]
                if (
                    r_offset
                    and rec.offset - r_offset > 1
                    and self.app.topics.acks_enabled_for(rec.topic)
                ):
                    await self._add_gap(tp, r_offset + 1, rec.offset)
                delivery = self.callback(self._to_message(tp, rec))
                waited = await self.wait_first(delivery, self.suspend_flow.wait())
                if delivery not in waited.done:
                    return  # suspended (a rebalance) or stopping: not delivered
                self._read_offset[tp] = rec.offset

    transport: Any = app.transport
    transport.Consumer = BatchConsumer
