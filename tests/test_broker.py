"""Integration tests for stream_app.dev.broker against a real Kafka broker."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Iterable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stream_app.dev.broker import LocalKafka, create_topics
from tests.conftest_kafka import ExternalKafka

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def produce(bootstrap: str, topic: str, items: Iterable[tuple[str, str]]) -> list[int]:
    """Send (key, value) pairs with acks=all; return the partition each one went to."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v.encode(), key=k.encode()) for k, v in items]
        return [(await fut).partition for fut in futures]
    finally:
        await producer.stop()


async def consume(
    bootstrap: str, topic: str, group: str, count: int, *, commit: bool = False
) -> list[tuple[str, str, int]]:
    """Read from the group's position (or the earliest offset) until ``count`` records
    arrived; return (key, value, partition) in per-partition offset order."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: list[tuple[str, str, int]] = []
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while len(received) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    received += [(r.key.decode(), r.value.decode(), r.partition) for r in records]
        if commit:
            await consumer.commit()
    finally:
        await consumer.stop()
    return received


async def test_produce_and_consume_keyed_messages(
    kafka: LocalKafka | ExternalKafka, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}-events"
    await create_topics(kafka.bootstrap, [topic], partitions=4)
    await create_topics(kafka.bootstrap, [topic], partitions=4)  # idempotent
    sent = [(f"key-{i % 10}", f"value-{i}") for i in range(100)]

    partitions = await produce(kafka.bootstrap, topic, sent)
    received = await consume(kafka.bootstrap, topic, f"{topic_prefix}-group", len(sent))

    assert sorted((k, v) for k, v, _ in received) == sorted(sent)
    sent_partition: dict[str, set[int]] = defaultdict(set)
    for (key, _), partition in zip(sent, partitions, strict=True):
        sent_partition[key].add(partition)
    got_values: dict[str, list[str]] = defaultdict(list)
    got_partition: dict[str, set[int]] = defaultdict(set)
    for key, value, partition in received:
        got_values[key].append(value)
        got_partition[key].add(partition)
    for key, part in sent_partition.items():
        assert len(part) == 1, f"{key} was spread over partitions {part}"
        assert got_partition[key] == part
        # Same key -> same partition -> delivered in the order it was produced.
        assert got_values[key] == [v for k, v in sent if k == key]
    assert {p for part in sent_partition.values() for p in part} <= {0, 1, 2, 3}
    assert len({p for part in sent_partition.values() for p in part}) > 1


@pytest.mark.skipif(
    bool(os.environ.get("CS_TEST_BOOTSTRAP")), reason="CS_TEST_BOOTSTRAP: no local brokers"
)
async def test_kill_and_restart_keeps_data(topic_prefix: str) -> None:
    broker = LocalKafka()  # its own broker: killing the session one would disturb other tests
    await asyncio.to_thread(broker.start)
    try:
        bootstrap, data_dir = broker.bootstrap, broker.data_dir
        topic, group = f"{topic_prefix}-durable", f"{topic_prefix}-group"
        await create_topics(bootstrap, [topic], partitions=2)
        first = [(f"k{i % 3}", f"v{i}") for i in range(30)]
        await produce(bootstrap, topic, first)
        got = await consume(bootstrap, topic, group, len(first), commit=True)
        assert sorted((k, v) for k, v, _ in got) == sorted(first)

        broker.kill()  # crash: no clean shutdown, no final flush by Kafka
        assert not broker.is_running()
        await asyncio.to_thread(broker.restart)
        assert broker.is_running()
        assert (broker.bootstrap, broker.data_dir) == (bootstrap, data_dir)

        second = [(f"k{i % 3}", f"v{i}") for i in range(30, 40)]
        await produce(bootstrap, topic, second)
        # The committed group offsets survived: the group only sees the new records ...
        got = await consume(bootstrap, topic, group, len(second))
        assert sorted((k, v) for k, v, _ in got) == sorted(second)
        # ... and a new group sees every record, including those written before the crash.
        got = await consume(bootstrap, topic, f"{group}-fresh", len(first) + len(second))
        assert sorted((k, v) for k, v, _ in got) == sorted(first + second)
    finally:
        await asyncio.to_thread(broker.stop)
    assert data_dir is not None and not data_dir.exists()  # temp data dir removed on stop
