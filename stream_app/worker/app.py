"""Faust app factory: topics, the state table, the batch agent, /metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
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

from stream_app.contract import Rejection
from stream_app.exposition import KpiCollector
from stream_app.kpi.core import Outcome
from stream_app.settings import Settings
from stream_app.timeutil import utc_now
from stream_app.worker.api import publish_health_changes, register_api
from stream_app.worker.batching import install_batch_consumer
from stream_app.worker.broker_auth import broker_credentials
from stream_app.worker.deadletter import dead_letter_headers
from stream_app.worker.lag import ConsumerLagCollector
from stream_app.worker.state import PartitionStates

log = logging.getLogger(__name__)


@dataclass
class PipelineMetrics:
    """Worker-only metrics (``stream_app_*``): not KPIs, not in ``replay``."""

    batches: Counter
    messages: Counter
    partitions: Gauge
    last_batch: Gauge

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
        )


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
        self.table = self.app.Table(
            "cs-state",
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            default=None,
        )
        self.states = PartitionStates(settings, self.table.data)
        self.metrics = PipelineMetrics.create(self.registry)
        self.registry.register(KpiCollector(self.states.owned, utc_now))
        self.registry.register(ConsumerLagCollector(self.app, self.topic_roles))
        self._wire()

    def _make_app(self) -> faust.App:
        s = self.settings
        return faust.App(
            s.app_id,
            broker=s.broker,
            broker_credentials=broker_credentials(s),
            store="memory://",
            datadir=s.data_dir,
            autodiscover=False,
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication,
            topic_allow_declare=True,
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=s.commit_interval_s,
            broker_session_timeout=s.session_timeout_s,
            broker_heartbeat_interval=min(3.0, s.session_timeout_s / 3),
            broker_rebalance_timeout=s.session_timeout_s,
            broker_max_poll_interval=max(30.0, s.session_timeout_s * 3),
            producer_max_request_size=max(s.max_message_bytes * 2, 4 * 1024 * 1024),
            web_enabled=True,
            web_bind=s.web_host,
            web_host=s.web_host,
            web_port=s.web_port,
            web_transport="tcp://",
        )

    def _wire(self) -> None:
        app = self.app
        batch_size = self.settings.batch_size
        within = self.settings.batch_within_s

        if self.settings.batch_hook:
            # consumer-level batches (stream_app/worker/batching.py); the topics are
            # subscribed through the conductor, but no agent sees their messages
            install_batch_consumer(app, set(self.topic_roles), self.handle_records)
            app.topics.add(self.source)
        else:

            @app.agent(self.source, name="cs-kpi-batches")
            async def apply_batches(stream: faust.StreamT[bytes]) -> None:
                async for events in stream.take_events(batch_size, within=within):  # type: ignore[attr-defined]
                    await self.handle_batch([event.message for event in events])

        @app.task
        async def _declare_dead_letters() -> None:
            await self.dead_letters.maybe_declare()

        @self.table.on_recover
        async def _recovered() -> None:
            self.states.assign(self._owned_partitions())
            self.metrics.partitions.set(len(self.states.cores))

        @app.on_partitions_revoked.connect  # type: ignore[arg-type]
        async def _revoked(sender: Any, revoked: set[TP], **_: Any) -> None:
            self.states.revoke(tp.partition for tp in revoked if tp.topic in self.topic_roles)
            self.metrics.partitions.set(len(self.states.cores))

        @app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            body = generate_latest(self.registry)
            return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

        register_api(self)  # /accounts/{account_id}, /accounts, the account-health topic

    def _owned_partitions(self) -> set[int]:
        assignment = self.app.consumer.assignment()
        return {tp.partition for tp in assignment if tp.topic in self.topic_roles}

    async def handle_records(self, tp: TP, records: Sequence[Any]) -> None:
        """The batch hook's entry: one fetched record list of one source partition."""
        await self.handle_batch(records)

    async def handle_batch(self, messages: Sequence[Any]) -> None:
        """Apply a batch to the cores, dead-letter rejections, persist changed state.

        Changelog records go straight to the producer (not Faust's per-message
        ``send_soon`` buffer); Faust flushes the producer before it commits offsets, so
        a committed offset never runs ahead of the state it produced.
        """
        touched: set[int] = set()
        outcomes: dict[str, int] = {}
        now = time.time()  # the worker's clock of lateness
        rejected: list[tuple[Any, Rejection]] = []
        for msg in messages:  # Faust messages or aiokafka records: same attributes
            role = self.topic_roles.get(msg.topic)
            if role is None:
                continue
            core = self.states.core(msg.partition)
            touched.add(msg.partition)
            outcome, detail = core.ingest(
                msg.value or b"", role, msg.key, msg.offset, now=now, check_future=True
            )
            outcomes[outcome.value] = outcomes.get(outcome.value, 0) + 1
            if outcome is Outcome.REJECTED and isinstance(detail, Rejection):
                rejected.append((msg, detail))
        producer = self.app.producer
        for msg, detail in rejected:  # flushed before the offsets commit, like the changelog
            await producer.send(
                self.settings.topic_dead_letters,
                msg.key,
                msg.value,
                msg.partition,
                None,
                dead_letter_headers(detail, msg.topic, msg.partition, msg.offset),
            )
        await publish_health_changes(self)  # acked before the changelog: at least once
        changelog = self.table.changelog_topic.get_topic_name()
        for partition, key, value in self.states.persist(sorted(touched)):
            await producer.send(changelog, key, value, partition, None, None)
        self.metrics.batches.inc()
        for outcome_name, n in outcomes.items():
            self.metrics.messages.labels(outcome_name).inc(n)
        self.metrics.last_batch.set(time.time())


def build_worker(settings: Settings, registry: CollectorRegistry | None = None) -> KpiWorker:
    """The worker for ``settings`` (one per process; tests build their own)."""
    logging.getLogger("stream_app").setLevel(logging.INFO)
    return KpiWorker(settings, registry)
