"""A producer no one here wrote: confluent-kafka (librdkafka), the client of most non-Java
services, with its own codecs and partitioners."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from confluent_kafka import Producer

from stream_app.produce import route
from stream_app.worker.routing import contract_partition


def produce_librdkafka(
    bootstrap: str,
    topics: Mapping[str, str],
    events: Iterable[Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
) -> int:
    """Send ``events`` keyed by their topic's key field through a librdkafka producer with
    ``config`` (``compression.type``, ``partitioner``, …); every one delivered."""
    # idempotence keeps each partition in produce order: without it librdkafka retries a
    # timed-out request behind newer ones (seen under CI load), and the tests compare the
    # worker with a replay of ``events`` in list order, where dedupe within
    # CS_DEDUPE_HORIZON_DAYS of a key's latest day depends on that order
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "enable.idempotence": True,
            **(config or {}),
        }
    )
    failed: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    count = 0
    for event in events:
        topic, key = route(event, topics)
        while True:
            try:
                producer.produce(topic, orjson.dumps(event), key, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let it drain
                producer.poll(0.1)
        count += 1
        producer.poll(0)
    left = producer.flush(60)
    assert left == 0 and not failed, (left, failed[:3])
    return count


def librdkafka_default_partition(key: bytes, partitions: int) -> int:
    """Where librdkafka's default partitioner (``consistent_random``) puts ``key``."""
    return zlib.crc32(key) % partitions


def lands_elsewhere(key: str, partitions: int = 4) -> bool:
    """Whether librdkafka's default partitioner puts ``key`` off its contract partition."""
    raw = key.encode()
    return librdkafka_default_partition(raw, partitions) != contract_partition(raw, partitions)
