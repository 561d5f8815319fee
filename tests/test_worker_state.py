"""The worker's state records (``stream_app/worker/state.py``), without Kafka: LZ4 records
round-trip, and records written by earlier versions (zlib-compressed JSON, plain JSON)
still load through Faust's own memory store and give the same exposition."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import faust
import orjson
import pytest

from stream_app.contract import TOPIC_BY_ROLE
from stream_app.exposition import render
from stream_app.generator import GeneratorConfig, generate_history, topic_role
from stream_app.kpi.core import PartitionCore
from stream_app.settings import Settings
from stream_app.worker.routing import contract_partition
from stream_app.worker.state import LZ4_TAG, PartitionStates, Write, decode, encode

PARTITIONS = 4
END = datetime(2026, 6, 1, 12, tzinfo=UTC)
AS_OF = END + timedelta(minutes=5)


def memory_store() -> Any:
    """Faust's own memory store of a state table like the worker's (app not started)."""
    app = faust.App("test-worker-state", store="memory://", autodiscover=False)
    table = app.Table("cs-state", key_type=bytes, value_type=bytes, partitions=PARTITIONS)
    return table.data


def recover(store: Any, writes: Iterable[Write]) -> None:
    """What Faust's changelog recovery does with the records read back: events of the
    changelog applied to the store with ``apply_changelog_batch``."""
    events = [
        SimpleNamespace(key=k, value=v, message=SimpleNamespace(value=v, partition=p))
        for p, k, v in writes
    ]
    store.apply_changelog_batch(events, to_key=lambda k: k, to_value=lambda v: v)


def messages(seed: int) -> dict[tuple[str, int], list[tuple[bytes, bytes, int]]]:
    """Generated events (every topic, web visits too) as (value, key, offset) messages per
    (topic role, contract partition)."""
    cfg = GeneratorConfig(
        seed=seed, accounts=12, days=6, end=END, duplicate_ratio=0.02, web_app_visits=3.0
    )
    out: dict[tuple[str, int], list[tuple[bytes, bytes, int]]] = {}
    for event in generate_history(cfg):
        role = topic_role(event)
        key = str(event.get(TOPIC_BY_ROLE[role].key, "")).encode()
        batch = out.setdefault((role, contract_partition(key, PARTITIONS)), [])
        batch.append((orjson.dumps(event), key, len(batch)))
    return out


def feed(states: PartitionStates, batches: Mapping[tuple[str, int], Sequence[Any]]) -> None:
    now = AS_OF.timestamp()
    for (role, partition), msgs in sorted(batches.items()):
        states.core(partition).ingest_batch(msgs, role, now=now)


def reference(batches: Mapping[tuple[str, int], Sequence[Any]]) -> bytes:
    cores = [PartitionCore(Settings(), p) for p in range(PARTITIONS)]
    now = AS_OF.timestamp()
    for (role, partition), msgs in sorted(batches.items()):
        cores[partition].ingest_batch(msgs, role, now=now)
    return render(cores, AS_OF)


@pytest.mark.parametrize(
    ("old_encoding", "first_byte"),
    [
        pytest.param(lambda r: zlib.compress(orjson.dumps(r), 1), b"x", id="zlib-json (v1.1)"),
        pytest.param(orjson.dumps, b"{", id="plain json (before compression)"),
    ],
)
def test_records_of_earlier_versions_load(old_encoding: Any, first_byte: bytes) -> None:
    batches = messages(seed=6)
    live = PartitionStates(Settings(), memory_store())
    feed(live, batches)
    changelog = live.persist(range(PARTITIONS))
    old = [(p, k, None if v is None else old_encoding(decode(v))) for p, k, v in changelog]
    assert all(v is None or v[:1] == first_byte for _, _, v in old)
    store = memory_store()
    recover(store, old)
    states = PartitionStates(Settings(), store)
    states.assign(range(PARTITIONS))
    assert render(states.owned(), AS_OF) == reference(batches)


def test_encode_round_trip() -> None:
    record = {"p": 2, "g": {"usage": {"u1": [1, 2, 3]}}, "s": "é" * 300}
    raw = encode(record)
    assert raw[:1] == LZ4_TAG and len(raw) < len(orjson.dumps(record))
    assert decode(raw) == record
    # a record written by v1.1 (zlib level 1 of its JSON), as bytes
    v11 = bytes.fromhex("7801ab562a50b232d051ca57b2aa562a28ca4f294d2e51b23231acad050065f9080c")
    assert decode(v11) == {"p": 0, "o": {"product": 41}}


def test_the_store_keeps_no_copy_of_what_the_cores_hold() -> None:
    """Flushes write the changelog only; a recovery's records are dropped from the store
    once their partition's core is loaded, and the cores give the same exposition."""
    batches = messages(seed=7)
    live_store = memory_store()
    live = PartitionStates(Settings(), live_store)
    feed(live, batches)
    changelog = live.persist(range(PARTITIONS))
    assert changelog and not live_store.data and not live_store._key_partition
    store = memory_store()
    recover(store, changelog)
    owned = {p for p, _, _ in changelog}
    assert len(owned) > 1
    kept = min(owned)  # a partition this worker does not own: Faust drops its records
    states = PartitionStates(Settings(), store)
    states.assign(owned - {kept})
    assert store.data and set(store._key_partition.values()) == {kept}
    states.assign(owned)  # a later assignment loads the rest and drops it too
    assert not store.data and not store._key_partition
    assert render(states.owned(), AS_OF) == reference(batches)


def test_the_state_table_recovers_every_partition_from_its_start() -> None:
    """The worker's table reports no persisted offset (-1, as an empty store), so that
    Faust's recovery reads a partition kept across a rebalance from its start: the store
    holds nothing of it (stream_app/worker/state.py)."""
    from faust.types import TP

    from stream_app.worker.app import KpiWorker

    worker = KpiWorker(Settings(app_id="test-state-table", partitions=PARTITIONS))
    changelog = worker.table.changelog_topic.get_topic_name()
    assert worker.table.persisted_offset(TP(changelog, 0)) == -1


@pytest.mark.parametrize(
    ("heartbeat_s", "session_s", "expected_s"),
    [
        (0.5, 10.0, 0.5),  # the default: a rebalance is noticed within half a second
        (3.0, 45.0, 3.0),  # Kafka's own defaults
        (5.0, 6.0, 2.0),  # never more than a third of the session timeout
    ],
)
def test_the_heartbeat_interval_is_the_setting_within_a_third_of_the_session(
    heartbeat_s: float, session_s: float, expected_s: float
) -> None:
    """A member learns that its group rebalances (another process joined) at its next
    heartbeat; until then it applies events of partitions that will move, which their
    new owner applies again."""
    from stream_app.worker.app import KpiWorker

    settings = Settings(
        app_id="test-heartbeat",
        partitions=PARTITIONS,
        heartbeat_interval_s=heartbeat_s,
        session_timeout_s=session_s,
    )
    conf = KpiWorker(settings).app.conf
    assert conf.broker_heartbeat_interval == expected_s
    assert conf.broker_session_timeout == session_s


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(body: bytes) -> Samples:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(body.decode())
        for s in fam.samples
    }


def kpi_part(page: bytes, like: Samples) -> Samples:
    """The samples of the worker's ``page`` that a read of the cores gives (``like``):
    the KPI families, not the worker's own pipeline metrics."""
    got = samples(page)
    return {key: got[key] for key in like if key in got}


@pytest.mark.asyncio
async def test_metrics_reads_one_core_at_a_time_and_leaves_out_a_revoked_one() -> None:
    """``/metrics`` reads the partition cores one at a time, the loop running between two;
    its KPI families equal a read of every core at once, and a core revoked while the
    page is read is left out (as from any read after the revocation)."""
    from stream_app.worker.app import KpiWorker

    batches = messages(seed=8)
    worker = KpiWorker(Settings(app_id="test-exposition", partitions=PARTITIONS))
    worker.kpis.clock = lambda: AS_OF
    feed(worker.states, batches)
    cores = worker.states.owned()
    assert len(cores) == PARTITIONS
    whole = samples(render(cores, AS_OF))
    assert whole and kpi_part(await worker.exposition(), whole) == whole

    reading = asyncio.ensure_future(worker.exposition())
    await asyncio.sleep(0)  # it has read the first core and lets the loop run
    assert not reading.done()
    revoked = cores[1].partition
    worker.states.revoke([revoked])
    rest = samples(render([c for c in cores if c.partition != revoked], AS_OF))
    assert kpi_part(await reading, rest) == rest
    assert rest != whole


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({}, 5000),  # the default: a backlog's fetches do not pin the state's memory
        ({"max_poll_records": None}, None),  # every record of the fetched batches
        ({"max_poll_records": 200}, 200),
    ],
)
def test_a_fetch_hands_over_at_most_max_poll_records(
    setting: dict[str, int | None], expected: int | None
) -> None:
    """Faust's consumer passes ``broker_max_poll_records`` to every ``getmany``: the
    records of one fetch live at once, and state allocated among them keeps their pools
    resident (README, "Batches, not messages")."""
    from stream_app.worker.app import KpiWorker

    settings = Settings(app_id="test-poll-records", partitions=PARTITIONS, **setting)
    assert KpiWorker(settings).app.conf.broker_max_poll_records == expected


def test_a_partitions_writes_are_made_one_at_a_time() -> None:
    """The shell sends each changelog write before the next is made: taking one encodes
    one record, not every changed key's (a backlog's commit writes tens of thousands)."""
    from unittest import mock

    from stream_app.worker import state as state_module

    batches = messages(seed=7)
    live = PartitionStates(Settings(), memory_store())
    feed(live, batches)
    expected = PartitionStates(Settings(), memory_store())
    feed(expected, batches)
    for partition in range(PARTITIONS):
        encoded = mock.Mock(side_effect=encode)
        with mock.patch.object(state_module, "encode", encoded):
            writes = live.writes(partition)
            first = next(writes)
            assert encoded.call_count == 1
            rest = list(writes)
        assert len(rest) > 2 and encoded.call_count == 1 + len(rest)
        assert [first, *rest] == expected.persist([partition])
