"""The batch consumer's acknowledgement (stream_app/worker/batching.py): a source
partition's applied records are one offset range, the offset to commit next; what a
commit would take is read the way Faust's ``_commit_tps`` reads it. The real commits, a
kill -9 and rebalances run on a broker in ``test_faults_kafka.py``."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any

import faust
import pytest
import pytest_asyncio
from aiokafka.consumer.fetcher import FetchResult, PartitionRecords
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust.types import TP
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.worker import batching
from stream_app.worker.batching import (
    APPLY_CHUNK,
    FLUSH_SHARE,
    CommitStep,
    SourceResults,
    install_batch_consumer,
)

SOURCE = "src"
SRC0 = TP(SOURCE, 0)
SRC1 = TP(SOURCE, 1)
OTHER = TP("other-changelog", 0)


def records(tp: TP, offsets: Sequence[int]) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord(tp.topic, tp.partition, o, 0, 0, b"k", b"v", None, 1, 1, ()) for o in offsets
    ]


class Shell:
    """A Faust app with the batch consumer installed (never started: no broker)."""

    def __init__(self) -> None:
        self.app = faust.App(
            "test-batching", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False
        )
        self.applied: list[tuple[TP, list[int]]] = []
        self.result: bool | None = True
        self.during: Any = None  # called inside the handler (a rebalance meanwhile)
        self.on_commit: Any = None  # called as the state write before a commit
        #: the steps of the state write (default: one step, ``on_commit``, that writes
        #: no partition in particular)
        self.steps: Any = None

        async def handler(tp: TP, recs: Sequence[Any]) -> bool | None:
            self.applied.append((tp, [r.offset for r in recs]))
            if self.during is not None:
                await self.during()
            return self.result

        async def before_commit() -> None:
            if self.on_commit is not None:
                await self.on_commit()

        def write_state() -> Sequence[CommitStep]:
            if self.steps is not None:
                steps: Sequence[CommitStep] = self.steps()
                return steps
            return [(None, before_commit)]

        install_batch_consumer(self.app, {SOURCE}, handler, write_state)
        self.consumer: Any = self.app.consumer

    async def apply(self, tp: TP, offsets: Sequence[int]) -> None:
        c = self.consumer
        await c._apply_batch(tp, records(tp, offsets), c._epoch())

    def to_commit(self) -> dict[TP, int]:
        """What the next commit would send (Faust's ``_commit_tps``, before the send)."""
        c = self.consumer
        offsets: dict[TP, int] = c._filter_committable_offsets(
            list(c._filter_tps_with_pending_acks())
        )
        return offsets

    def committed(self, offsets: dict[TP, int]) -> None:
        self.consumer._committed_offset.update(offsets)  # as ``_commit_offsets`` does


@pytest_asyncio.fixture
async def shell() -> AsyncIterator[Shell]:
    yield Shell()


@pytest.mark.asyncio
async def test_applied_batches_commit_one_past_the_last_record(shell: Shell) -> None:
    await shell.apply(SRC0, [0, 1, 2])
    await shell.apply(SRC0, [3, 4])
    await shell.apply(SRC1, [10, 11])
    assert shell.to_commit() == {SRC0: 5, SRC1: 12}
    assert shell.consumer._read_offset[SRC0] == 4  # the last record read
    assert not shell.consumer._acked  # no per-message bookkeeping for source topics
    assert not shell.consumer._acked_index


@pytest.mark.asyncio
async def test_a_long_record_list_is_applied_and_acked_in_chunks(shell: Shell) -> None:
    """Each chunk is acknowledged once applied, and other tasks (requests, a commit) run
    between two chunks."""
    seen: list[dict[TP, int]] = []
    ran_between: list[int] = []

    async def during() -> None:  # inside the handler: what a commit would take now
        seen.append(shell.to_commit())

    async def other_task() -> None:
        while len(ran_between) < 3:
            ran_between.append(len(shell.applied))
            await asyncio.sleep(0)

    shell.during = during
    other = asyncio.ensure_future(other_task())
    await asyncio.sleep(0)  # it starts
    n = 2 * APPLY_CHUNK + 7
    await shell.apply(SRC0, range(n))
    await other
    assert [len(offsets) for _, offsets in shell.applied] == [APPLY_CHUNK, APPLY_CHUNK, 7]
    assert [o for _, offsets in shell.applied for o in offsets] == list(range(n))
    assert seen == [{}, {SRC0: APPLY_CHUNK}, {SRC0: 2 * APPLY_CHUNK}]
    assert ran_between[1:] == [1, 2]  # the other task ran after the first and second chunks
    assert shell.to_commit() == {SRC0: n}


@pytest.mark.asyncio
async def test_a_gap_between_batches_is_covered(shell: Shell) -> None:
    # offsets 3..6 never come (transaction markers, compaction): the range covers them
    await shell.apply(SRC0, [0, 1, 2])
    await shell.apply(SRC0, [7, 8])
    assert shell.to_commit() == {SRC0: 9}


@pytest.mark.asyncio
async def test_a_committed_range_is_not_committed_again(shell: Shell) -> None:
    await shell.apply(SRC0, [0, 1, 2])
    shell.committed(shell.to_commit())
    assert shell.to_commit() == {}
    await shell.apply(SRC0, [3])
    assert shell.to_commit() == {SRC0: 4}


@pytest.mark.asyncio
async def test_nothing_applied_nothing_to_commit(shell: Shell) -> None:
    assert shell.to_commit() == {}
    shell.result = False  # the handler did not apply (the worker is stopping)
    await shell.apply(SRC0, [0, 1])
    assert shell.applied == [(SRC0, [0, 1])]
    assert shell.to_commit() == {}
    assert shell.consumer._read_offset[SRC0] is None


@pytest.mark.asyncio
async def test_a_revoked_partitions_range_is_forgotten(shell: Shell) -> None:
    await shell.apply(SRC0, [0, 1])
    await shell.apply(SRC1, [0, 1, 2])
    await shell.consumer.on_partitions_revoked({SRC0})
    assert shell.to_commit() == {SRC1: 3}


@pytest.mark.asyncio
async def test_a_batch_fetched_before_a_revocation_is_not_applied(shell: Shell) -> None:
    c = shell.consumer
    epoch = c._epoch()
    await c.on_partitions_revoked({SRC1})
    await c._apply_batch(SRC0, records(SRC0, [0, 1]), epoch)
    assert shell.applied == []
    assert shell.to_commit() == {}


@pytest.mark.asyncio
async def test_a_rebalance_during_the_batch_drops_its_ack(shell: Shell) -> None:
    c = shell.consumer

    async def revoke() -> None:
        await c.on_partitions_revoked({SRC0})

    shell.during = revoke
    await shell.apply(SRC0, [5, 6])
    assert shell.applied == [(SRC0, [5, 6])]
    assert shell.to_commit() == {}

    async def new_generation() -> None:
        shell.app.consumer_generation_id += 1

    shell.during = new_generation
    await shell.apply(SRC1, [0, 1])
    assert shell.to_commit() == {}


@pytest.mark.asyncio
async def test_batches_apply_while_a_commit_waits_for_the_broker(shell: Shell) -> None:
    """The state write and the offsets a commit takes happen with no batch applied in
    between; the wait for the broker (the producer's flush, the offset commit) does not
    hold the batches back, and what they apply meanwhile goes to the next commit."""
    c = shell.consumer
    broker = asyncio.Event()
    sent: list[dict[TP, int]] = []
    written: list[dict[TP, int]] = []

    async def commit_offsets(offsets: dict[TP, int], start_new_transaction: bool = True) -> bool:
        sent.append(dict(offsets))
        await broker.wait()  # the broker answers later
        c._committed_offset.update(offsets)
        return True

    async def before_commit() -> None:
        written.append(shell.to_commit())  # what the state write covers

    c._commit_offsets = commit_offsets
    shell.on_commit = before_commit
    await shell.apply(SRC0, [0, 1, 2])
    commit = asyncio.ensure_future(c.force_commit())
    while not sent:  # the state is written, the offsets are on their way
        await asyncio.sleep(0)
    assert written == [{SRC0: 3}]
    assert sent == [{SRC0: 3}]
    await asyncio.wait_for(shell.apply(SRC0, [3, 4]), 5)  # not held back by the commit
    await asyncio.wait_for(shell.apply(SRC1, [0]), 5)
    assert not commit.done()
    assert c._one_commit().locked()  # another commit waits for this one
    broker.set()
    assert await commit is True
    c._flushed_at = c._flush_took = 0.0  # no pacing (it follows a backlog's commits)
    assert await c.force_commit() is True
    assert sent == [{SRC0: 3}, {SRC0: 5, SRC1: 1}]  # the next commit takes the rest
    assert written == [{SRC0: 3}, {SRC0: 5, SRC1: 1}]


@pytest.mark.asyncio
async def test_each_partition_is_written_with_its_own_offsets_and_batches_apply_between(
    shell: Shell,
) -> None:
    """A commit writes the state one partition at a time and takes that partition's
    offsets in the same hold of the state lock; batches waiting for the lock apply
    between two partitions' writes: what they apply to a partition already written goes
    to the next commit, to a partition written later goes into this one."""
    c = shell.consumer
    sent: list[dict[TP, int]] = []
    log: list[str] = []
    late: list[asyncio.Future[None]] = []

    async def commit_offsets(offsets: dict[TP, int], start_new_transaction: bool = True) -> bool:
        sent.append(dict(offsets))
        c._committed_offset.update(offsets)
        return True

    def step(name: str, then: Any = None) -> Any:
        async def run() -> None:
            log.append(name)
            if then is not None:
                then()

        return run

    def batches_meanwhile() -> None:  # they wait for the lock the write holds
        late.append(asyncio.ensure_future(shell.apply(SRC0, [3, 4])))
        late.append(asyncio.ensure_future(shell.apply(SRC1, [1, 2])))

    shell.steps = lambda: [
        (0, step("write 0", batches_meanwhile)),
        (1, step("write 1")),
        (None, step("after")),
    ]
    real_handler_log = len(shell.applied)
    c._commit_offsets = commit_offsets
    await shell.apply(SRC0, [0, 1, 2])
    await shell.apply(SRC1, [0])
    assert await c.force_commit() is True
    await asyncio.gather(*late)
    assert log == ["write 0", "write 1", "after"]
    assert shell.applied[real_handler_log + 2 :] == [(SRC0, [3, 4]), (SRC1, [1, 2])]
    assert sent == [{SRC0: 3, SRC1: 3}]  # partition 0 as of its write, 1 as of its own
    c._flushed_at = c._flush_took = 0.0  # no pacing (it follows a backlog's commits)
    shell.steps = lambda: [(0, step("write 0 again"))]
    assert await c.force_commit() is True
    assert sent[1:] == [{SRC0: 5}]


@pytest.mark.asyncio
async def test_the_pace_of_commits_counts_the_write_not_the_batches_between_its_steps(
    shell: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a backlog is applied, a commit waits FLUSH_SHARE times as long as the last
    one took: its steps and its wait for the broker, not the batches applied between
    two steps (a clock that the steps move by 1, the batches by 100, the broker by 5)."""
    c = shell.consumer
    clock = [1000.0]
    monkeypatch.setattr(batching.time, "monotonic", lambda: clock[0])
    late: list[asyncio.Future[None]] = []

    async def commit_offsets(offsets: dict[TP, int], start_new_transaction: bool = True) -> bool:
        clock[0] += 5
        return True

    async def slow_batch() -> None:
        clock[0] += 100

    def step(then: Any = None) -> Any:
        async def run() -> None:
            clock[0] += 1
            if then is not None:
                then()

        return run

    def batch_meanwhile() -> None:
        late.append(asyncio.ensure_future(shell.apply(SRC1, [0])))

    await shell.apply(SRC0, [0])
    shell.during = slow_batch
    shell.steps = lambda: [(0, step(batch_meanwhile)), (1, step()), (None, step())]
    c._commit_offsets = commit_offsets
    assert await c.force_commit() is True
    await asyncio.gather(*late)
    assert c._flush_took == 3 + 5
    shell.steps = lambda: [(None, step())]
    assert not await c.force_commit()  # paced: too soon after it
    clock[0] += FLUSH_SHARE * 8
    assert await c.force_commit()


@pytest.mark.asyncio
async def test_a_rebalance_during_the_state_write_commits_nothing(shell: Shell) -> None:
    """The partitions written before the rebalance keep state ahead of their committed
    offsets (safe: the state knows which offsets it applied); no later step runs."""
    c = shell.consumer
    sent: list[dict[TP, int]] = []
    log: list[int] = []

    async def commit_offsets(offsets: dict[TP, int], start_new_transaction: bool = True) -> bool:
        sent.append(dict(offsets))
        return True

    async def write_0() -> None:
        log.append(0)
        shell.app.consumer_generation_id += 1  # a rebalance meanwhile

    async def write_1() -> None:
        log.append(1)

    c._commit_offsets = commit_offsets
    shell.steps = lambda: [(0, write_0), (1, write_1)]
    await shell.apply(SRC0, [0, 1])
    await shell.apply(SRC1, [0])
    assert await c.force_commit() is False
    assert log == [0]
    assert sent == []


@pytest.mark.asyncio
async def test_other_topics_keep_fausts_per_message_acks(shell: Shell) -> None:
    c = shell.consumer
    for offset in (0, 1, 2, 4):  # what Faust's ``ack`` keeps for a message
        c._acked[OTHER].append(offset)
        c._acked_index[OTHER].add(offset)
    await shell.apply(SRC0, [0])
    assert shell.to_commit() == {OTHER: 3, SRC0: 1}  # up to the first hole only


def fausts_commits(batches: Sequence[Sequence[int]]) -> tuple[list[int | None], int | None]:
    """What Faust's per-message path (every offset acked, gaps added) commits after each
    batch, on a consumer without the batch hook; then its committed offset after one more
    commit with nothing new."""
    app = faust.App("test-batching-faust", broker="kafka://127.0.0.1:1", autodiscover=False)
    c: Any = app.consumer
    tp = SRC0
    out: list[int | None] = []

    def commit() -> int | None:
        found = c._filter_committable_offsets(list(c._filter_tps_with_pending_acks()))
        c._committed_offset.update(found)
        return found.get(tp)

    async def run() -> None:
        for batch in batches:
            r_offset = c._read_offset[tp]
            for offset in batch:  # as Faust's _drain_messages and ack() do
                if r_offset and offset - r_offset > 1:
                    await c._add_gap(tp, r_offset + 1, offset)
                c._acked[tp].append(offset)
                c._acked_index[tp].add(offset)
                c._read_offset[tp] = r_offset = offset
            out.append(commit())
        commit()

    asyncio.run(run())
    final: int | None = c._committed_offset[tp]
    return out, final


@st.composite
def in_order_batches(draw: st.DrawFn) -> list[list[int]]:
    """Record lists of one partition as fetches return them: increasing offsets, some
    skipped (markers, compaction), starting past 0."""
    offset = draw(st.integers(1, 5))
    batches = []
    for _ in range(draw(st.integers(1, 6))):
        batch = []
        for _ in range(draw(st.integers(1, 5))):
            offset += draw(st.sampled_from([1, 1, 1, 2, 4]))
            batch.append(offset)
        batches.append(batch)
    return batches


@settings(max_examples=60, deadline=None)
@given(batches=in_order_batches())
def test_the_range_commits_at_least_what_fausts_per_message_acks_commit(
    batches: list[list[int]],
) -> None:
    """After each batch the range commits one past its last record; Faust's per-message
    acks never commit further (they lag behind gaps: a gap's interval includes the record
    after it, whose duplicate offset ends a consecutive run, and ``_add_gap`` starts one
    past the committed offset, which is the *next* offset to read)."""

    async def ours() -> list[int | None]:
        shell = Shell()
        out: list[int | None] = []
        for batch in batches:
            await shell.apply(SRC0, batch)
            found = shell.to_commit()
            shell.committed(found)
            out.append(found.get(SRC0))
        return out

    mine = asyncio.run(ours())
    assert mine == [batch[-1] + 1 for batch in batches]
    theirs, final = fausts_commits(batches)
    committed = 0
    for offset, faust_offset in zip(mine, theirs, strict=True):
        committed = max(committed, faust_offset or 0)
        assert offset is not None and committed <= offset
    assert final is not None and mine[-1] is not None and final <= mine[-1]


def fetched(topic: str, values: Sequence[bytes]) -> FetchResult:
    """A fetch result of ``topic``[0] as aiokafka's fetcher makes it: a real record batch
    (the headers of the second record set)."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i, value in enumerate(values):
        headers = [("h", b"x")] if i == 1 else []
        builder.append(i, timestamp=1000 + i, key=b"k%d" % i, value=value, headers=headers)
    tp = TopicPartition(topic, 0)
    records = PartitionRecords(
        tp, MemoryRecords(bytes(builder.build())), [], 0, None, None, True, 0
    )
    return FetchResult(tp, assignment=None, partition_records=records, backoff=0)


def test_source_records_come_as_aiokafka_decoded_them() -> None:
    earlier = fetched(SOURCE, [b"a"])  # already fetched when the hook is installed
    results = SourceResults({SOURCE}, {TopicPartition(SOURCE, 1): earlier})
    results[TopicPartition(SOURCE, 0)] = fetched(SOURCE, [b"v0", b"v1", b"v2"])
    results[TopicPartition("changelog", 0)] = fetched("changelog", [b"c0", b"c1"])

    source = list(results[TopicPartition(SOURCE, 0)]._partition_records)
    assert [(r.offset, r.timestamp, r.key, r.value) for r in source] == [
        (0, 1000, b"k0", b"v0"),
        (1, 1001, b"k1", b"v1"),
        (2, 1002, b"k2", b"v2"),
    ]
    assert [list(r.headers) for r in source] == [[], [("h", b"x")], []]
    assert not any(isinstance(r, ConsumerRecord) for r in source)
    assert not isinstance(
        next(results[TopicPartition(SOURCE, 1)]._partition_records), ConsumerRecord
    )
    # other topics (changelogs) keep aiokafka's ConsumerRecord, which Faust's path reads
    other = list(results[TopicPartition("changelog", 0)]._partition_records)
    assert [(type(r), r.topic, r.offset, r.value) for r in other] == [
        (ConsumerRecord, "changelog", 0, b"c0"),
        (ConsumerRecord, "changelog", 1, b"c1"),
    ]


@pytest.mark.asyncio
async def test_the_drain_loop_lets_applied_records_go_while_it_waits_for_the_next_fetch(
    shell: Shell,
) -> None:
    """An idle worker (caught up, a fetch in flight with nothing to return) holds no
    record of its last fetch: they were kept until the next fetch returned."""

    class Records(list[ConsumerRecord[bytes, bytes]]):  # a list that takes a weak reference
        pass

    c = shell.consumer
    fetched = Records(records(SRC0, [0, 1, 2]))
    gone = weakref.ref(fetched)
    nothing_yet: asyncio.Future[tuple[Any, Any]] = asyncio.get_running_loop().create_future()
    fetches = [(c._epoch(), {SRC0: fetched})]
    del fetched

    async def fetch() -> tuple[Any, Any]:
        return fetches.pop() if fetches else await nothing_yet

    c._fetch = fetch
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    drain = asyncio.create_task(c._drain_messages(fetcher))
    try:
        for _ in range(100):
            await asyncio.sleep(0)
            if shell.applied and gone() is None:
                break
        assert shell.applied == [(SRC0, [0, 1, 2])]
        assert gone() is None  # nothing holds the applied records while the loop waits
    finally:
        fetcher._stopped.set()
        nothing_yet.set_result((c._epoch(), None))
        await asyncio.wait_for(drain, 5)


@pytest.mark.asyncio
async def test_a_rebalance_ends_a_per_message_list_and_an_undelivered_record_keeps_its_offset(
    shell: Shell,
) -> None:
    """Changelog records go one by one through Faust's path: once the flow stops (a
    revocation), the rest of the list is neither delivered nor counted as read."""
    c = shell.consumer
    c.resume_flow()
    delivered: list[int] = []

    async def revoked_after_the_first(message: Any) -> None:
        delivered.append(message.offset)
        c.stop_flow()  # what Faust's revocation does

    c.callback = revoked_after_the_first
    await c._deliver_each(OTHER, records(OTHER, [0, 1, 2]), c._epoch())
    assert delivered == [0]
    assert c._read_offset[OTHER] == 0

    # a delivery the suspension cuts short (the callback waits, then is cancelled)
    c.resume_flow()
    started = asyncio.Event()

    async def blocked(message: Any) -> None:
        started.set()
        await asyncio.get_running_loop().create_future()  # never delivered

    c.callback = blocked
    delivery = asyncio.create_task(c._deliver_each(OTHER, records(OTHER, [1, 2]), c._epoch()))
    await asyncio.wait_for(started.wait(), 5)
    c.stop_flow()  # sets suspend_flow
    await asyncio.wait_for(delivery, 5)
    assert c._read_offset[OTHER] == 0  # record 1 was not delivered: still unread

    # and a list from before the current epoch is not delivered at all
    c.resume_flow()
    c.callback = revoked_after_the_first
    old_epoch = c._epoch()
    await c.on_partitions_revoked(set())
    await c._deliver_each(OTHER, records(OTHER, [1, 2]), old_epoch)
    assert delivered == [0]
