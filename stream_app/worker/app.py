"""Faust app factory: topics, the state table, the batch agent, /metrics."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from stream_app import compiled
from stream_app.contract import TOPIC_BY_ROLE, Rejection
from stream_app.exposition import KpiCollector
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.families import Family, merge
from stream_app.settings import Settings
from stream_app.timeutil import utc_now
from stream_app.worker.api import register_api
from stream_app.worker.batching import CommitStep, install_batch_consumer
from stream_app.worker.broker_auth import broker_credentials
from stream_app.worker.deadletter import dead_letter_headers
from stream_app.worker.fetch_errors import REASONS, RETRY_S, FetchError
from stream_app.worker.lag import ConsumerLagCollector
from stream_app.worker.memory import ALLOCATOR, Trimmer, tune_allocator
from stream_app.worker.outage_log import watch_broker_outages
from stream_app.worker.outbox import publish_outbox
from stream_app.worker.partitions import mismatch_message
from stream_app.worker.routing import Forward, PartitionRouter, forwarded_from
from stream_app.worker.state import PartitionStates

log = logging.getLogger(__name__)
PRODUCER_BATCH_BYTES = 1024 * 1024  # the broker's default message.max.bytes
#: ``max.message.bytes`` of the state changelog the worker creates: an account's record
#: grows with its users active in the windows (20,000 users: ~310 kB; past ~65,000 it
#: would exceed the broker's default 1 MB and its state write would fail). A busy key's
#: event ids do not count: they go to records of their own (id_chunks.py)
STATE_RECORD_MAX_BYTES = 8 * 1024 * 1024
FORWARD_LOG_EVERY_S = 60.0  # at most one "forwarding" warning per topic per minute

#: ``cs_`` families only the worker exports (``stream-app replay`` has no Kafka to count
#: them from): left out when the worker's exposition is compared with replay's
SHELL_ONLY_FAMILIES = ("cs_events_forwarded_total", "cs_fetch_errors_total")


def outbox_topics(settings: Settings) -> dict[str, str]:
    """Outbox topic role (what the KPI groups queue records for) -> topic name."""
    return {"health": settings.topic_account_health}


@dataclass
class PipelineMetrics:
    """Worker-only metrics (``stream_app_*``): not KPIs, not in ``replay``."""

    batches: Counter
    messages: Counter
    partitions: Gauge
    last_batch: Gauge
    flushes: Counter
    records_written: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PipelineMetrics:
        return cls(
            batches=Counter(
                "stream_app_batches", "Batches applied to the core.", registry=registry
            ),
            messages=Counter(
                "stream_app_messages",
                "Messages handled, by outcome.",
                ["outcome"],
                registry=registry,
            ),
            partitions=Gauge(
                "stream_app_partitions_owned", "Partitions this worker owns.", registry=registry
            ),
            last_batch=Gauge(
                "stream_app_last_batch_timestamp_seconds",
                "Wall-clock time of the last applied batch.",
                registry=registry,
            ),
            flushes=Counter(
                "stream_app_state_flushes",
                "State flushes (changed accounts written to the changelog, before a commit).",
                registry=registry,
            ),
            records_written=Counter(
                "stream_app_state_records_written",
                "Changelog records written (one per changed account per flush, plus metas).",
                registry=registry,
            ),
        )


class ShellCounters(Collector):
    """The worker's Kafka-side ``cs_`` counters, every sample exported (zeros too):
    ``cs_events_forwarded_total{topic}`` and ``cs_fetch_errors_total{topic, reason}``
    over the source topics (a fixed label set)."""

    def __init__(self, topics: Sequence[str]) -> None:
        self.forwarded = dict.fromkeys(topics, 0)
        self.fetch_errors = {(t, r): 0 for t in topics for r in REASONS}

    def collect(self) -> Iterator[CounterMetricFamily]:
        forwarded = CounterMetricFamily(
            "cs_events_forwarded",
            "Messages that landed on another partition than their key's contract partition"
            " (murmur2 of the topic's key field), forwarded there and not applied where"
            " they landed.",
            labels=["topic"],
        )
        for topic, n in self.forwarded.items():
            forwarded.add_metric([topic], n)
        yield forwarded
        errors = CounterMetricFamily(
            "cs_fetch_errors",
            "Fetched record batches that could not be decoded (the partition is paused at"
            " the batch and fetched again every 30 s).",
            labels=["topic", "reason"],
        )
        for (topic, reason), n in self.fetch_errors.items():
            errors.add_metric([topic, reason], n)
        yield errors


class StateTable(faust.Table):
    """The state table: it reports no persisted offset, so that Faust's recovery reads
    each assigned changelog partition from its start at every rebalance. The store keeps
    no copy of what the cores hold (:mod:`stream_app.worker.state`); a partition this
    worker keeps across a rebalance would otherwise be recovered from the offset of its
    last recovery only, and its core, dropped at the revocation, loaded from part of its
    records. (-1 is what a store that has nothing says: Faust seeks to the earliest
    offset, exactly as for a new process.)"""

    def persisted_offset(self, tp: TP) -> int | None:
        return -1


class KpiWorker:
    """The shell: owns the Faust app, hands batches of messages to the partition cores."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=False)
        self.app = self._make_app()
        self.topic_roles = {name: role for role, name in settings.topic_names().items()}
        self.source = self.app.topic(
            *self.topic_roles,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )
        self.dead_letters = self.app.topic(
            settings.topic_dead_letters,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )
        self.outbox_topics = outbox_topics(settings)
        self.outbox = [
            self.app.topic(
                name, key_serializer="raw", value_serializer="raw", partitions=settings.partitions
            )
            for name in self.outbox_topics.values()
        ]
        self.table = self.app.Table(
            "cs-state",
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            default=None,
            extra_topic_configs={"max.message.bytes": str(STATE_RECORD_MAX_BYTES)},
        )
        self.states = PartitionStates(settings, self.table.data)
        self.metrics = PipelineMetrics.create(self.registry)
        self.counters = ShellCounters(list(self.topic_roles))
        self.router = PartitionRouter(
            {role: TOPIC_BY_ROLE[role].key for role in self.topic_roles.values()}
        )
        self._forward_logged: dict[str, float] = {}
        #: set when the worker must stop (partition counts differ): no batch is applied
        #: after it, and ``on_fatal`` (the command's) stops the process
        self.fatal: str | None = None
        self.on_fatal: Callable[[str], None] | None = None
        self.handled = 0  # messages of source topics accounted for (any outcome)
        self._touched: set[int] = set()  # partitions changed since their last state write
        self.trimmer = Trimmer()  # returns freed memory now and then (memory.py)
        self.first_batch_at: float | None = None
        self.last_batch_at: float | None = None
        self.kpis = KpiCollector(self.states.owned, utc_now)
        self.registry.register(self.kpis)
        self.lag = ConsumerLagCollector(self.app, self.topic_roles)
        self.registry.register(self.lag)
        self.registry.register(self.counters)
        self._wire()

    def _make_app(self) -> faust.App:
        s = self.settings
        return faust.App(
            s.app_id,
            broker=s.broker,
            broker_credentials=broker_credentials(s),
            store="memory://",
            # no standby copies of other workers' state: with the memory store a standby
            # partition that becomes active is read again from the changelog's start anyway
            # (the store keeps no offsets), so a standby was only a second reader of every
            # changelog record, each through Faust's per-message path, and memory
            table_standby_replicas=0,
            datadir=s.data_dir,
            autodiscover=False,
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication,
            topic_allow_declare=True,
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=s.commit_interval_s,
            broker_max_poll_records=s.max_poll_records,
            broker_session_timeout=s.session_timeout_s,
            broker_heartbeat_interval=min(s.heartbeat_interval_s, s.session_timeout_s / 3),
            broker_rebalance_timeout=s.session_timeout_s,
            broker_max_poll_interval=max(30.0, s.session_timeout_s * 3),
            producer_max_request_size=max(s.max_message_bytes * 2, STATE_RECORD_MAX_BYTES * 2),
            # aiokafka buffers one batch per partition and makes the next send wait until
            # it is drained: with the default 16 KB, a state flush of a few hundred account
            # records waited on the broker every few records (0.5 ms a record)
            producer_max_batch_size=PRODUCER_BATCH_BYTES,
            web_enabled=True,
            web_bind=s.web_host,
            web_host=s.web_host,
            web_port=s.web_port,
            web_transport="tcp://",
            Table=StateTable,
        )

    def _wire(self) -> None:
        app = self.app
        batch_size = self.settings.batch_size
        within = self.settings.batch_within_s

        if self.settings.batch_hook:
            # consumer-level batches (stream_app/worker/batching.py); the topics are
            # subscribed through the conductor, but no agent sees their messages
            install_batch_consumer(
                app,
                set(self.topic_roles),
                self.handle_records,
                self.state_steps,
                self.settings.fetch_max_wait_ms,
                self.on_fetch_error,
                self.source.maybe_declare,
            )
            app.topics.add(self.source)
        else:

            @app.agent(self.source, name="cs-kpi-batches")
            async def apply_batches(stream: faust.StreamT[bytes]) -> None:
                async for events in stream.take_events(batch_size, within=within):  # type: ignore[attr-defined]
                    await self.handle_batch([event.message for event in events])
                    await self.flush_state()  # the agent path writes state per batch

        @app.task
        async def _declare_topics() -> None:  # the topics this worker writes to
            for topic in (self.dead_letters, *self.outbox):
                await topic.maybe_declare()

        @self.table.on_recover
        async def _recovered() -> None:
            self.check_partitions()
            self.states.assign(self._owned_partitions())
            self.metrics.partitions.set(len(self.states.cores))
            self.trimmer.maybe(force=True)  # the store's staged records are freed

        @app.on_partitions_assigned.connect  # type: ignore[arg-type]
        async def _assigned(sender: Any, assigned: set[TP], **_: Any) -> None:
            self.check_partitions()

        @app.on_partitions_revoked.connect  # type: ignore[arg-type]
        async def _revoked(sender: Any, revoked: set[TP], **_: Any) -> None:
            self.states.revoke(tp.partition for tp in revoked if tp.topic in self.topic_roles)
            self.metrics.partitions.set(len(self.states.cores))

        @app.page("/progress")
        async def progress(web: Any, request: Any) -> Any:
            return web.json(self.progress())

        @app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            body = await self.exposition()
            return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

        # /accounts/{account_id}, /accounts
        register_api(app, self.table, self.states, self.settings.partitions)

    async def exposition(self) -> bytes:
        """The ``/metrics`` page. The KPI families are read one partition core at a time,
        with the event loop running between two (a batch, a commit or ``/progress`` waits
        for one core's read, not for all of them: a read of every core took 60-140 ms on
        a loaded 2-core machine); then the whole registry is written at once. Each sum
        adds per-core values read moments apart, every one of them monotonic where it is
        a counter, so the sums are too. A core revoked meanwhile is left out, as it is
        from any read after the revocation."""
        as_of = self.kpis.clock()
        read: list[tuple[PartitionCore, list[Family]]] = []
        for core in self.states.owned():
            if read:
                await asyncio.sleep(0)
            if self.states.cores.get(core.partition) is core:  # still ours
                read.append((core, core.families(as_of)))
        owned = [fams for core, fams in read if self.states.cores.get(core.partition) is core]
        self.kpis.read = merge(owned)
        try:
            return generate_latest(self.registry)
        finally:
            self.kpis.read = None

    def progress(self) -> dict[str, Any]:
        """Cheap progress figures (no KPI reads): for benchmarks and readiness checks."""
        return {
            "handled": self.handled,
            "first_batch_at": self.first_batch_at,
            "last_batch_at": self.last_batch_at,
            "partitions": sorted(self.states.cores),
            "core": compiled.active(),  # compiled (mypyc) or pure Python (why)
            "allocator": ALLOCATOR,  # jemalloc or python (stream_app/allocator.py)
            **self.trimmer.progress(),  # the last trim once caught up (memory.py)
        }

    def _owned_partitions(self) -> set[int]:
        assignment = self.app.consumer.assignment()
        return {tp.partition for tp in assignment if tp.topic in self.topic_roles}

    def partition_counts(self) -> dict[str, int | None]:
        """Partition count of each source topic and of the state changelog, as the
        consumer's metadata knows them (None: not known)."""
        consumer: Any = self.app.consumer
        changelog = self.table.changelog_topic.get_topic_name()
        return {topic: consumer.topic_partitions(topic) for topic in [*self.topic_roles, changelog]}

    def check_partitions(self) -> None:
        """Stop the worker (``fatal``, ``on_fatal``) when partition counts differ."""
        if self.fatal is not None:
            return
        message = mismatch_message(self.partition_counts(), self.settings.partitions)
        if message is None:
            return
        self.fatal = message
        log.critical("stopping: %s", message)
        if self.on_fatal is not None:
            self.on_fatal(message)

    def on_fetch_error(self, error: FetchError) -> None:
        """A record batch that could not be decoded: counted and logged; its partition
        waits at it (paused, fetched again after ``RETRY_S``), the others go on."""
        key = (error.topic, error.reason)
        if key in self.counters.fetch_errors:
            self.counters.fetch_errors[key] += 1
        log.error(
            "cannot decode the record batch of %s[%d] at offset %d (%s: %s); that partition "
            "waits at it and is fetched again in %.0f s, the others go on. A codec the "
            "worker lacks: install stream-app with its dependencies (aiokafka's codec "
            "extras) and restart; see docs/producers.md#compression",
            error.topic,
            error.partition,
            error.offset,
            error.reason,
            error.detail,
            RETRY_S,
        )

    async def handle_records(self, tp: TP, records: Sequence[Any]) -> bool:
        """The batch hook's entry: one fetched record list of one source partition.
        Messages that belong to another partition are forwarded there (:mod:`routing`),
        the others applied. False (nothing done, nothing to ack) once ``fatal``."""
        if self.fatal is not None:
            return False
        role = self.topic_roles.get(tp.topic)
        if role is None:
            return True
        now = time.time()  # the worker's clock of lateness
        records, forwards, stale = self.router.split(
            role, tp.partition, self.settings.partitions, records
        )
        if stale:  # copies forwarded under an earlier partition count (routing.py)
            self.metrics.messages.labels("stale_copy").inc(stale)
        if forwards:
            await self._forward(tp.topic, forwards)
        if not records:
            self._count({}, now)
            return True
        # forwarded copies (rare): where they first landed, so that a copy forwarded
        # again after a crash is known as a redelivery (PartitionCore.ingest_batch)
        origins = {
            r.offset: origin
            for r in records
            if r.headers and (origin := forwarded_from(r.headers)) is not None
        }
        core = self.states.core(tp.partition)
        self._touched.add(tp.partition)
        outcomes, rejected = core.ingest_batch(
            ((r.value, r.key, r.offset) for r in records),
            role,
            now=now,
            future_tolerance_s=self.settings.future_tolerance_s,
            origins=origins,
        )
        if rejected:
            by_offset = {r.offset: r for r in records}
            await self._dead_letter([(by_offset[o], why) for o, why in rejected], tp)
        self._count(outcomes, now)
        return True

    async def _forward(self, topic: str, forwards: Sequence[Forward]) -> None:
        """Send each record to its contract partition of ``topic``. Like the dead
        letters, the producer is flushed before the source offsets commit: a crash in
        between forwards them again, and the copy arrives as a redelivery."""
        producer = self.app.producer
        for f in forwards:
            r = f.record
            timestamp = r.timestamp / 1000 if r.timestamp is not None else None
            await producer.send(topic, r.key, r.value, f.partition, timestamp, f.headers)
        self.counters.forwarded[topic] = self.counters.forwarded.get(topic, 0) + len(forwards)
        now = time.monotonic()
        if now - self._forward_logged.get(topic, -FORWARD_LOG_EVERY_S) >= FORWARD_LOG_EVERY_S:
            self._forward_logged[topic] = now
            log.warning(
                "forwarded %d message(s) of %s to the partition of their key: a producer "
                "does not partition by murmur2 of the key (librdkafka clients: set "
                "partitioner=murmur2_random); see docs/producers.md#partitioner",
                len(forwards),
                topic,
            )

    async def handle_batch(self, messages: Sequence[Any]) -> None:
        """Apply a batch to the cores and dead-letter its rejections.

        The changed state is written by :meth:`flush_state`, which the agent calls after
        each batch (one record per changed account however many events changed it).
        Records go straight to the producer (not Faust's per-message ``send_soon``
        buffer); Faust flushes the producer before it commits offsets.
        """
        outcomes: dict[str, int] = {}
        now = time.time()  # the worker's clock of lateness
        rejected: list[tuple[Any, Rejection]] = []
        roles = self.topic_roles
        core_of = self.states.core
        touched = self._touched
        for msg in messages:  # Faust messages or aiokafka records: same attributes
            role = roles.get(msg.topic)
            if role is None:
                continue
            core = core_of(msg.partition)
            touched.add(msg.partition)
            outcome, detail = core.ingest(
                msg.value or b"",
                role,
                msg.key,
                msg.offset,
                now=now,
                future_tolerance_s=self.settings.future_tolerance_s,
            )
            outcomes[outcome.value] = outcomes.get(outcome.value, 0) + 1
            if outcome is Outcome.REJECTED and isinstance(detail, Rejection):
                rejected.append((msg, detail))
        await self._dead_letter(rejected)
        self._count(outcomes, now)

    async def _dead_letter(
        self, rejected: Sequence[tuple[Any, Rejection]], tp: TP | None = None
    ) -> None:
        """Send each rejected message to the dead-letter topic, on its own partition.
        ``tp``: where the records came from (the batch hook's records carry no topic or
        partition); None: each message's own (Faust messages)."""
        producer = self.app.producer
        for msg, detail in rejected:  # flushed before the offsets commit, like the changelog
            topic, partition = (msg.topic, msg.partition) if tp is None else tp
            await producer.send(
                self.settings.topic_dead_letters,
                msg.key,
                msg.value,
                partition,
                None,
                dead_letter_headers(detail, topic, partition, msg.offset),
            )

    def _count(self, outcomes: dict[str, int], started: float) -> None:
        self.metrics.batches.inc()
        for outcome_name, n in outcomes.items():
            self.metrics.messages.labels(outcome_name).inc(n)
            self.handled += n
        finished = time.time()
        if self.first_batch_at is None:
            self.first_batch_at = started
        self.last_batch_at = finished
        self.metrics.last_batch.set(finished)

    async def flush_state(self) -> None:
        """Write every partition changed since the last write (the agent path, after each
        batch; the batch path writes them one at a time before each offset commit: see
        :meth:`state_steps`)."""
        for _partition, step in self.state_steps():
            await step()

    def state_steps(self) -> list[CommitStep]:
        """The state write before an offset commit, one step per partition changed since
        the last write (:meth:`_write_partition`), then :meth:`_after_write`. The batch
        consumer runs each step with no batch applied during it, takes that partition's
        offsets to commit with it, and lets batches and requests run between two steps
        (``stream_app/worker/batching.py``)."""
        steps: list[CommitStep] = [
            (p, functools.partial(self._write_partition, p)) for p in sorted(self._touched)
        ]
        steps.append((None, self._after_write))
        return steps

    async def _write_partition(self, partition: int) -> None:
        """Publish the partition's outbox (health band changes), then write its changed
        keys and its meta to the changelog. A batch that changes the partition later
        marks it again, for the next write."""
        self._touched.discard(partition)
        core = self.states.cores.get(partition)
        if core is None:
            return  # revoked: its state went with it
        records = core.drain_outbox()
        if records:  # acked before the changelog: at least once
            await publish_outbox(self.app.producer, self.outbox_topics, records)
        changelog = self.table.changelog_topic.get_topic_name()
        producer = self.app.producer
        written = 0
        # one write at a time (the state lock is held: no batch changes the core meanwhile)
        for changelog_partition, key, value in self.states.writes(partition):
            await producer.send(changelog, key, value, changelog_partition, None, None)
            written += 1
        self.metrics.records_written.inc(written)

    async def _after_write(self) -> None:
        self.metrics.flushes.inc()
        # caught up: every fetched offset committed (by the commit this write precedes)
        caught_up = not any(self.lag.lag_by_topic().values())
        self.trimmer.maybe(handled=self.handled, caught_up=caught_up)


def build_worker(settings: Settings, registry: CollectorRegistry | None = None) -> KpiWorker:
    """The worker for ``settings`` (one per process; tests build their own)."""
    logging.getLogger("stream_app").setLevel(logging.INFO)
    # aiokafka logs every produced record at DEBUG: a cost per changelog record even when
    # no handler prints it
    logging.getLogger("aiokafka").setLevel(logging.INFO)
    tune_allocator()  # freed fetch buffers go back to the system (memory.py)
    worker = KpiWorker(settings, registry)
    log.info("KPI core: %s", compiled.active())  # the mypyc build or the pure-Python path
    # a broker outage: one warning, reminders, one line when it is back (not hundreds
    # of aiokafka reconnect errors)
    watch_broker_outages(worker.app, settings.broker)
    return worker
