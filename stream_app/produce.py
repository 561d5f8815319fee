"""Produce contract events to their Kafka topics (key = the topic's key field), optionally
paced."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from stream_app.contract import TOPIC_BY_ROLE, TYPE_TOPIC


def bootstrap_of(broker: str) -> str:
    """``kafka://h:p;kafka://h2:p`` (Faust style) -> ``h:p,h2:p`` (aiokafka style)."""
    parts = [p.strip() for p in broker.replace(";", ",").split(",") if p.strip()]
    return ",".join(p.split("://", 1)[-1] for p in parts)


def route(event: Mapping[str, Any], topics: Mapping[str, str]) -> tuple[str, bytes | None]:
    """Topic name and key of an event (unknown types go to the product topic)."""
    role = TYPE_TOPIC.get(str(event.get("type")), "product")
    value = event.get(TOPIC_BY_ROLE[role].key)
    key = value.encode() if isinstance(value, str) else None
    return topics[role], key


class Pacer:
    """Keeps a steady rate: ``await tick(n)`` after sending n events."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.started = time.monotonic()
        self.sent = 0

    async def tick(self, n: int = 1) -> None:
        self.sent += n
        if not self.rate:
            return
        ahead = self.sent / self.rate - (time.monotonic() - self.started)
        if ahead > 0:
            await asyncio.sleep(ahead)  # pacing a producer, not a test wait


class DeliveryFailed(Exception):
    """Some events were handed to the producer but never acknowledged by the broker (a
    batch whose retries ran out, a record the topic refuses)."""

    def __init__(self, failed: int, sent: int, first: BaseException) -> None:
        super().__init__(
            f"{failed:,} of {sent:,} events were not delivered (first error: "
            f"{type(first).__name__}: {first})"
        )
        self.failed, self.sent, self.first = failed, sent, first


class Deliveries:
    """The broker's answers to the events sent: each send's future is kept until it is
    done, and a failed one is counted (aiokafka reports a batch that failed, after its
    retries, only on the futures of its records; ``flush()`` does not raise)."""

    def __init__(self) -> None:
        self.pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.failed = 0
        self.first: BaseException | None = None

    def add(self, future: asyncio.Future[Any]) -> None:
        self.pending.append(future)

    def settle(self) -> None:
        """Count the answers received so far, oldest first, and let them go."""
        pending = self.pending
        while pending and pending[0].done():
            self._count(pending.popleft())

    async def wait(self) -> None:
        """Wait for every answer, and count them."""
        if self.pending:
            await asyncio.wait(self.pending)
        self.settle()

    def _count(self, future: asyncio.Future[Any]) -> None:
        error = asyncio.CancelledError() if future.cancelled() else future.exception()
        if error is not None:
            self.failed += 1
            if self.first is None:
                self.first = error


async def produce(
    broker: str,
    topics: Mapping[str, str],
    events: Iterable[Mapping[str, Any] | bytes],
    rate: float | None = None,
    producer: AIOKafkaProducer | None = None,
) -> int:
    """Send ``events`` (dicts, or pre-encoded bytes routed to the product topic) and wait
    until the broker has acknowledged each of them; their count. Raises
    :class:`DeliveryFailed` when some were not delivered."""
    own = producer is None
    if producer is None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_of(broker), linger_ms=20)
        await producer.start()
    pacer = Pacer(rate)
    deliveries = Deliveries()
    count = 0
    try:
        for event in events:
            if isinstance(event, bytes):
                topic, key, value = topics["product"], None, event
            else:
                topic, key = route(event, topics)
                value = orjson.dumps(event)
            deliveries.add(await producer.send(topic, value, key=key))
            count += 1
            if count % 100 == 0:
                deliveries.settle()
                await pacer.tick(100)
        await producer.flush()
        await deliveries.wait()
    finally:
        if own:
            await producer.stop()
    if deliveries.first is not None:
        raise DeliveryFailed(deliveries.failed, count, deliveries.first)
    return count


async def produce_live(
    broker: str,
    topics: Mapping[str, str],
    events_between: Callable[[datetime, datetime], Iterable[Mapping[str, Any]]],
    start: datetime,
    period: float = 1.0,
) -> None:
    """Forever: every ``period`` seconds, send the events of the wall-clock slice just past."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_of(broker), linger_ms=20)
    await producer.start()
    try:
        last = start
        while True:
            await asyncio.sleep(period)  # live traffic: one slice of real time per period
            now = datetime.now(UTC)
            await produce(broker, topics, events_between(last, now), producer=producer)
            last = now
    finally:
        await producer.stop()
