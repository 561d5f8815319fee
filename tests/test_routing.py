"""The contract partition of a message, forwarding, partition counts and fetch errors:
the worker shell's pure parts (issue 19). The same on the real broker:
tests/test_producers_kafka.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import errors as kafka_errors
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from stream_app import compiled
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.settings import KpiSettings
from stream_app.worker import routing
from stream_app.worker.fetch_errors import reason_of
from stream_app.worker.partitions import mismatch_message
from stream_app.worker.routing import (
    HEADER_FORWARDED_FROM,
    PartitionRouter,
    contract_partition,
    forwarded_from,
    key_from_value,
)

KEY_FIELDS = {"product": "account_id", "web": "visitor_id", "company": "source"}


@dataclass
class Rec:
    """The attributes of an aiokafka ConsumerRecord the worker reads."""

    offset: int
    key: bytes | None
    value: bytes | None = b"{}"
    headers: tuple[tuple[str, bytes], ...] = field(default_factory=tuple)
    timestamp: int | None = 0


@given(st.binary(min_size=1, max_size=64), st.integers(1, 64))
def test_contract_partition_is_the_default_partitioners(key: bytes, partitions: int) -> None:
    ids = list(range(partitions))
    assert contract_partition(key, partitions) == DefaultPartitioner()(key, ids, ids)


def test_known_murmur2_partitions() -> None:
    # Java's Utils.toPositive(Utils.murmur2(key)) % n for these keys
    assert contract_partition(b"21", 4) == DefaultPartitioner()(b"21", [0, 1, 2, 3], [])
    assert {contract_partition(f"acct-{i}".encode(), 4) for i in range(50)} == {0, 1, 2, 3}


def keyed_to(partition: int, n: int = 4, prefix: str = "acct") -> list[str]:
    return [
        f"{prefix}-{i}"
        for i in range(200)
        if contract_partition(f"{prefix}-{i}".encode(), n) == partition
    ]


def test_records_on_their_partition_pass_untouched() -> None:
    router = PartitionRouter(KEY_FIELDS)
    records = [Rec(i, k.encode()) for i, k in enumerate(keyed_to(2)[:20])]
    stay, forwards, stale = router.split("product", 2, 4, records)
    assert stay is records and forwards == [] and stale == 0


@pytest.mark.parametrize("role", ["product", "web", "company"])
def test_records_elsewhere_are_forwarded_with_their_origin(role: str) -> None:
    router = PartitionRouter(KEY_FIELDS)
    here, there = keyed_to(1)[:3], keyed_to(3)[:2]
    records = [
        Rec(10, here[0].encode()),
        Rec(11, there[0].encode(), b'{"x":1}', (("trace", b"t1"),), 1234),
        Rec(12, here[1].encode()),
        Rec(13, there[1].encode()),
    ]
    stay, forwards, stale = router.split(role, 1, 4, records)
    assert [r.offset for r in stay] == [10, 12] and stale == 0
    assert [(f.record.offset, f.partition) for f in forwards] == [(11, 3), (13, 3)]
    assert forwards[0].headers == [("trace", b"t1"), (HEADER_FORWARDED_FROM, b"1:11")]
    assert forwarded_from(forwards[1].headers) == (1, 13)


def test_keyless_records_are_routed_by_their_key_field() -> None:
    router = PartitionRouter(KEY_FIELDS)
    here, there = keyed_to(0, prefix="v")[0], keyed_to(2, prefix="v")[0]
    records = [
        Rec(1, None, orjson.dumps({"visitor_id": here})),
        Rec(2, None, orjson.dumps({"visitor_id": there})),
        Rec(3, None, b"not json"),  # no usable key: stays, the core rejects it here
        Rec(4, None, orjson.dumps({"visitor_id": 7})),
        Rec(5, None, None),
    ]
    stay, forwards, _ = router.split("web", 0, 4, records)
    assert [r.offset for r in stay] == [1, 3, 4, 5]
    assert [(f.record.offset, f.partition, f.record.key) for f in forwards] == [(2, 2, None)]


def test_a_copy_off_its_partition_is_stale_and_dropped() -> None:
    """Copies go to their contract partition: one found elsewhere was forwarded under an
    earlier partition count; its original is forwarded again from where it landed."""
    router = PartitionRouter(KEY_FIELDS)
    there = keyed_to(3)[0]
    copy = Rec(5, there.encode(), headers=((HEADER_FORWARDED_FROM, b"2:40"),))
    stay, forwards, stale = router.split("product", 1, 4, [copy])
    assert (list(stay), forwards, stale) == ([], [], 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b'{"account_id": "a1"}', b"a1"),
        (b'{"account_id": ""}', None),
        (b'{"account_id": null}', None),
        (b"[1, 2]", None),
        (b"", None),
        (b"\xff", None),
    ],
)
def test_key_from_value(value: bytes, expected: bytes | None) -> None:
    assert key_from_value(value, "account_id") == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((), None),
        (None, None),
        (((HEADER_FORWARDED_FROM, b"3:17"),), (3, 17)),
        (((HEADER_FORWARDED_FROM, b"garbage"),), None),
    ],
)
def test_forwarded_from(headers: tuple[tuple[str, bytes], ...] | None, expected: object) -> None:
    assert forwarded_from(headers) == expected


def test_partition_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # the cache of the pure-Python hash's path
    monkeypatch.setattr("stream_app.worker.routing.CACHE_SIZE", 10)
    router = PartitionRouter(KEY_FIELDS, cached=True)
    for i in range(25):
        assert router.partition_of(str(i).encode(), 4) == contract_partition(str(i).encode(), 4)
    assert len(router._cache[4]) <= 10


@pytest.mark.parametrize("cached", [True, False])
def test_the_router_caches_only_the_pure_hash(cached: bool) -> None:
    router = PartitionRouter(KEY_FIELDS, cached=cached)
    keys = [f"visitor-{i}".encode() for i in range(300)]
    assert [router.partition_of(k, 4) for k in keys] == [contract_partition(k, 4) for k in keys]
    records = [Rec(i, k) for i, k in enumerate(keys)]
    stay, forwards, _ = router.split("web", 1, 4, records)
    assert {r.key for r in stay} == {k for k in keys if contract_partition(k, 4) == 1}
    assert {f.record.key for f in forwards} == {k for k in keys if contract_partition(k, 4) != 1}
    assert len(router._cache.get(4, {})) == (300 if cached else 0)


def test_the_compiled_hash_is_not_cached() -> None:
    if not compiled.is_compiled():
        pytest.skip(f"no current compiled build: {compiled.active()}")
    assert not routing.PURE_HASH
    router = PartitionRouter(KEY_FIELDS)
    router.split("web", 0, 4, [Rec(i, f"v-{i}".encode()) for i in range(50)])
    assert router._cache == {}


# -- partition counts ------------------------------------------------------------------
def test_equal_counts_pass() -> None:
    assert mismatch_message({"a": 4, "b": 4, "changelog": 4}, 4) is None
    assert mismatch_message({"a": 4, "b": None}, 4) is None  # not known yet
    assert mismatch_message({"a": 4, "b": 0}, 4) is None  # not created yet


@pytest.mark.parametrize(
    ("counts", "configured", "target"),
    [
        ({"product-events": 4, "billing-events": 8, "cs-kpi-cs-state-changelog": 4}, 4, 8),
        ({"product-events": 8, "billing-events": 8, "cs-kpi-cs-state-changelog": 4}, 4, 8),
        ({"product-events": 6, "billing-events": 6, "cs-kpi-cs-state-changelog": 6}, 4, 6),
    ],
)
def test_differing_counts_name_every_topic_and_the_fix(
    counts: dict[str, int], configured: int, target: int
) -> None:
    message = mismatch_message(counts, configured)
    assert message is not None and "\n" not in message
    for topic, n in counts.items():
        assert f"{topic} has {n}" in message
    assert f"CS_PARTITIONS={configured}" in message
    assert f"set CS_PARTITIONS={target}" in message
    assert "docs/producers.md#partition-counts" in message


# -- fetch errors ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (kafka_errors.UnsupportedCodecError("no snappy"), "unsupported_codec"),
        (kafka_errors.CorruptRecordException("Invalid CRC"), "corrupt_batch"),
        (ValueError("lz4 frame"), "undecodable"),
    ],
)
def test_fetch_error_reasons(exc: Exception, reason: str) -> None:
    assert reason_of(exc) == reason


# -- forwarded copies in the core --------------------------------------------------------
def event(n: int, account: str = "a1") -> bytes:
    ts = datetime(2026, 3, 1 + 3 * (n % 10), 10, tzinfo=UTC).isoformat()  # 3 days apart
    return orjson.dumps(
        {
            "event_id": f"e{n}",
            "type": "session_started",
            "ts": ts,
            "account_id": account,
            "user_id": "u1",
        }
    )


def test_a_copy_forwarded_again_is_a_redelivery_beyond_the_dedupe_horizon() -> None:
    """After a crash, a partition forwards again from its committed offset: the copies
    whose origin is not past the last one handled are redeliveries, even for events
    older than the dedupe horizon (which event ids cannot catch)."""
    core = PartitionCore(KpiSettings(dedupe_horizon_days=1, max_lateness_days=3650))
    now = datetime(2026, 4, 1, tzinfo=UTC).timestamp()
    first = [(event(i), b"a1", 100 + i) for i in range(5)]
    origins = {100 + i: (2, 40 + i) for i in range(5)}  # copies of offsets 40-44 of p2
    outcomes, _ = core.ingest_batch(first, "product", now=now, origins=origins)
    assert outcomes == {"applied": 5}
    # run 2 forwards 42-46 again (the kill came before its commit): 42-44 are known
    again = [(event(i), b"a1", 105 + i - 2) for i in range(2, 7)]
    origins2 = {105 + i - 2: (2, 40 + i) for i in range(2, 7)}
    outcomes, _ = core.ingest_batch(again, "product", now=now, origins=origins2)
    assert outcomes == {"redelivered": 3, "applied": 2}
    # copies from another partition are counted on their own
    other = [(event(9), b"a1", 110)]
    outcomes, _ = core.ingest_batch(other, "product", now=now, origins={110: (3, 0)})
    assert outcomes == {"applied": 1}
    # the marks survive a restart (partition meta)
    restored = PartitionCore(KpiSettings(), partition=core.partition)
    restored.load_meta(orjson.loads(orjson.dumps(core.meta_record())))
    assert restored.forwards == {"product:2": 46, "product:3": 0}


def test_a_producers_duplicate_forwarded_from_elsewhere_is_a_duplicate() -> None:
    core = PartitionCore(KpiSettings(max_lateness_days=3650))
    now = datetime(2026, 4, 1, tzinfo=UTC).timestamp()
    outcomes, _ = core.ingest_batch([(event(1), b"a1", 0)], "product", now=now)
    assert outcomes == {"applied": 1}
    copy = [(event(1), b"a1", 1)]  # the same event sent again, landed on p2, forwarded
    outcomes, _ = core.ingest_batch(copy, "product", now=now, origins={1: (2, 7)})
    assert outcomes == {"duplicate": 1}
