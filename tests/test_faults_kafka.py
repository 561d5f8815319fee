"""Nothing lost, nothing counted twice: faults on the real broker, each ending with the
workers' /metrics (summed) equal to `stream-app replay` of the same events."""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stream_app.dev.broker import LocalKafka
from tests.faults import create_for as create_topics_for
from tests.faults import cs_sum, dataset, diff, replayed, send
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration]


def owned(w: WorkerProcess) -> float:
    return w.metrics().get("stream_app_partitions_owned", 0.0)


def test_kill_9_mid_stream_three_times(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    import asyncio

    # big enough that a chunk takes the (batch-fed) worker a while to apply
    events = dataset(seed=21, accounts=600, days=25, duplicate_ratio=0.01, invalid_ratio=0.01)
    size = len(events) // 4 + 1
    chunks = [events[i : i + size] for i in range(0, len(events), size)]  # in stream order
    # small fetches, so that progress shows (and a kill lands) between batches
    worker = WorkerProcess(
        kafka.bootstrap, topic_prefix, tmp_path, env={"CS_MAX_POLL_RECORDS": "200"}
    )
    asyncio.run(create_topics_for(kafka.bootstrap, worker))
    rng = random.Random(5)
    sent = 0
    mid_stream = 0
    worker.start()
    try:
        for chunk in chunks[:3]:
            sent += send(kafka.bootstrap, worker, chunk)
            target = sent - len(chunk) * rng.uniform(0.3, 0.8)  # a random point of this chunk
            seen = wait_for(
                lambda t=target: (n := handled(worker.metrics())) >= t and n,
                180,
                "progress",
                interval=0.01,
            )
            worker.stop(sig=signal.SIGKILL)  # at once: the chunk is still being applied
            mid_stream += seen < sent
            worker.start()
        sent += send(kafka.bootstrap, worker, chunks[3])
        wait_for(lambda: handled(worker.metrics()) >= sent, 240, "all events after the kills")
        as_of = datetime.now(UTC)
        live = cs_sum([worker.metrics()])
    finally:
        worker.stop()
    assert mid_stream >= 2, "the worker was not killed mid-stream"
    assert diff(live, replayed(events, tmp_path, as_of)) == {}


def test_second_worker_joins_and_leaves(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    import asyncio

    events = dataset(seed=22, accounts=60, days=20)
    first, second = events[: len(events) // 2], events[len(events) // 2 :]
    a = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    b = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    asyncio.run(create_topics_for(kafka.bootstrap, a))
    a.start()
    try:
        wait_for(lambda: owned(a) == 4, 120, "worker A owns all partitions")
        sent = send(kafka.bootstrap, a, first)
        b.start()
        wait_for(lambda: owned(a) + owned(b) == 4 and owned(b) > 0, 120, "A and B share partitions")
        wait_for(lambda: handled(a.metrics()) + handled(b.metrics()) >= sent, 180, "first half")
        as_of = datetime.now(UTC)
        both = cs_sum([a.metrics(), b.metrics()])
        # each worker exports only what it owns: the sum equals the whole, nothing twice
        assert diff(both, replayed(first, tmp_path, as_of)) == {}
        assert 0 < handled(b.metrics()) < sent
        b.stop()
        wait_for(lambda: owned(a) == 4, 120, "A takes B's partitions back")
        sent += send(kafka.bootstrap, a, second)
        wait_for(lambda: handled(a.metrics()) >= sent, 180, "second half")
        as_of = datetime.now(UTC)
        live = cs_sum([a.metrics()])
    finally:
        b.stop()
        a.stop()
    assert diff(live, replayed(events, tmp_path, as_of)) == {}


def test_broker_down_for_30s_mid_stream(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    import asyncio

    if not isinstance(kafka, LocalKafka):
        pytest.skip("needs the local broker it can stop")
    events = dataset(seed=23, accounts=60, days=20)
    first, second = events[: len(events) // 2], events[len(events) // 2 :]
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)
    asyncio.run(create_topics_for(kafka.bootstrap, worker))
    sent = send(kafka.bootstrap, worker, first)
    worker.start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= sent, 180, "first half")
        kafka.stop(keep_data=True)
        outage_end = time.monotonic() + 30
        while time.monotonic() < outage_end:  # the fault itself: 30 s without a broker
            assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
            time.sleep(1)
        kafka.restart()
        sent += send(kafka.bootstrap, worker, second)
        wait_for(lambda: handled(worker.metrics()) >= sent, 240, "catch-up after the outage")
        as_of = datetime.now(UTC)
        live = cs_sum([worker.metrics()])
        # the log: one warning, reminders, one line when the broker is back (issue 13)
        log_text = wait_for(
            lambda: (
                (text := worker.log_path.read_text(errors="replace"))
                and "reachable again" in text
                and text
            ),
            60,
            "the broker-is-back line",
        )
    finally:
        worker.stop()
    assert diff(live, replayed(events, tmp_path, as_of)) == {}
    outage = [
        line
        for line in log_text.splitlines()
        if "stream_app.worker.broker" in line or "Kafka broker" in line
    ]
    assert sum("unreachable (" in line for line in outage) == 1, outage
    assert any("still unreachable after 30 s" in line for line in outage), outage
    assert sum("reachable again" in line for line in outage) == 1, outage
    reconnects = [line for line in log_text.splitlines() if "Unable connect to" in line]
    assert len(reconnects) <= 2, reconnects[:5]


def test_shuffled_arrival_and_every_event_twice(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    import asyncio

    events = dataset(seed=24, accounts=40, days=20)
    stream = list(events)
    random.Random(9).shuffle(stream)
    stream = stream + stream  # every event twice, the copies long after the originals
    horizon = {"CS_DEDUPE_HORIZON_DAYS": "30"}  # covers the 20 days of data
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path, env=horizon)
    asyncio.run(create_topics_for(kafka.bootstrap, worker))
    sent = send(kafka.bootstrap, worker, stream)
    worker.start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= sent, 240, "all events")
        as_of = datetime.now(UTC)
        live = cs_sum([worker.metrics()])
    finally:
        worker.stop()
    in_order = replayed(events, tmp_path, as_of, dedupe_horizon_days=30)
    assert live["cs_events_duplicate_total"] == len(events)
    live["cs_events_duplicate_total"] = 0.0
    assert diff(live, in_order) == {}
