"""Bench data: generated events, the JSONL file, a fast bulk producer, fresh live events."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from stream_app.contract import TOPIC_BY_ROLE, TOPIC_ROLES
from stream_app.dev.broker import create_topics
from stream_app.generator import GeneratorConfig, generate_history, topic_role

ROLES = TOPIC_ROLES  # every topic of the contract (the generator emits web events)
PARTITIONS = 4
#: the generator's web knobs for the bench dataset: customers' users browse the app's pages
#: on every day they use the product (the default: one day in ten) and a visit views 3 pages
#: (the middle of the 1.7-4 pages per session of the web analytics references), so that page
#: views are the most frequent event type, as in a real product (about 30 %, web events about
#: two thirds of all events); the shares of a run are in ``details.dataset.types``
WEB_MIX: dict[str, float] = {"web_app_visits": 10.0, "web_pages_per_visit": 3.0}

#: (topic role, key, value) of one message
Record = tuple[str, bytes | None, bytes]


def topic_names(prefix: str) -> dict[str, str]:
    """Topic role -> name, as tests/worker_proc.WorkerProcess names them."""
    return {role: f"{prefix}-{role}-events" for role in ROLES}


async def make_topics(bootstrap: str, prefix: str) -> dict[str, str]:
    """Create the source topics and the dead-letter topic of ``prefix`` (4 partitions)."""
    topics = topic_names(prefix)
    await create_topics(bootstrap, [*topics.values(), f"{prefix}-dead-letters"], PARTITIONS)
    return topics


@dataclass
class Dataset:
    records: list[Record]
    jsonl: Path
    generate_s: float
    #: events per type
    types: Counter[str]

    @property
    def events(self) -> int:
        return len(self.records)

    def describe(self) -> dict[str, Any]:
        """Events, per topic and per type (count and share), for the JSON detail."""
        n = self.events or 1
        roles = Counter(r[0] for r in self.records)
        return {
            "events": self.events,
            "web_mix": WEB_MIX,
            "topics": {role: {"events": c, "share": c / n} for role, c in roles.most_common()},
            "types": {t: {"events": c, "share": c / n} for t, c in self.types.most_common()},
        }


def make_dataset(accounts: int, tmp: Path, seed: int = 1, days: int = 30) -> Dataset:
    """Generate the history of ``accounts`` accounts with the :data:`WEB_MIX`; encode it
    once, write it as JSONL."""
    started = time.monotonic()
    records: list[Record] = []
    types: Counter[str] = Counter()
    cfg = GeneratorConfig(
        seed=seed,
        accounts=accounts,
        days=days,
        web_app_visits=WEB_MIX["web_app_visits"],
        web_pages_per_visit=WEB_MIX["web_pages_per_visit"],
    )
    for event in generate_history(cfg):
        role = topic_role(event)
        value = event.get(TOPIC_BY_ROLE[role].key)  # account_id, or visitor_id for web events
        key = value.encode() if isinstance(value, str) else None
        records.append((role, key, orjson.dumps(event)))
        types[str(event["type"])] += 1
    path = tmp / "events.jsonl"
    with path.open("wb") as out:
        for i in range(0, len(records), 10_000):
            out.write(b"".join(r[2] + b"\n" for r in records[i : i + 10_000]))
    return Dataset(records, path, time.monotonic() - started, types)


def user_sessions(users: int, accounts: int, offset: int = 0) -> list[Record]:
    """One ``session_started`` per user: ``users`` distinct users over ``accounts`` accounts,
    event times spread over the last 29 days (inside the 30-day active-user window)."""
    now = datetime.now(UTC)
    out: list[Record] = []
    for i in range(offset, offset + users):
        account = f"bench-acct-{i % accounts}"
        ts = now - timedelta(seconds=60 + (i * 7919) % (29 * 86_400))
        event = {
            "event_id": f"bench-s-{i}",
            "type": "session_started",
            "ts": ts.isoformat(timespec="milliseconds"),
            "account_id": account,
            "user_id": f"bench-user-{i}",
        }
        out.append(("product", account.encode(), orjson.dumps(event)))
    return out


#: one visit: (event type, seconds after its start, extra fields), as bench.web_replay
VISIT: tuple[tuple[str, int, dict[str, object]], ...] = (
    ("page_viewed", 0, {"path": "/"}),
    ("page_left", 20, {"path": "/", "engaged_ms": 12_000, "max_scroll_pct": 60}),
    ("page_viewed", 40, {"path": "/pricing"}),
    ("link_shown", 60, {"link": "hero_start_trial"}),
    ("page_left", 80, {"path": "/pricing", "engaged_ms": 30_000, "max_scroll_pct": 95}),
)


def visitor_visits(visitors: int, offset: int = 0) -> list[Record]:
    """One 5-event visit (:data:`VISIT`) per visitor: ``visitors`` distinct anonymous
    visitors, visit starts spread over the last 29 days as :func:`user_sessions` does."""
    now = datetime.now(UTC)
    out: list[Record] = []
    for i in range(offset, offset + visitors):
        visitor = f"anon_bench{i:012x}"
        start = now - timedelta(seconds=600 + (i * 7919) % (29 * 86_400))
        for k, (kind, after, extra) in enumerate(VISIT):
            event = {
                "event_id": f"bench-v-{i}-{k}",
                "type": kind,
                "ts": (start + timedelta(seconds=after)).isoformat(timespec="milliseconds"),
                "visitor_id": visitor,
                **extra,
            }
            out.append(("web", visitor.encode(), orjson.dumps(event)))
    return out


class FreshEvents:
    """Valid product events with ts = now (feature use of one of a few known users), made
    cheaply: the load generator shares the cores with the worker it measures. Each costs
    one string format (~1 us; a dict, ``uuid4`` and ``orjson`` per event plus aiokafka's
    pure-Python murmur2 per key cost ~13 us, half a core at 35,000 events/s): the ids are a
    random 64-bit run prefix and a counter (32 hex digits, as ``uuid4().hex``), the key's
    partition is computed once per account, and a chunk's events share one ``ts``."""

    def __init__(self, accounts: int = 500) -> None:
        self.accounts = accounts
        self.run = random.getrandbits(64)
        partitioner = DefaultPartitioner()
        parts = list(range(PARTITIONS))
        self.keys = [f"fresh-acct-{a}".encode() for a in range(accounts)]
        self.partitions = [partitioner(k, parts, parts) for k in self.keys]

    def chunk(self, start: int, stop: int) -> Iterator[tuple[int, bytes, bytes]]:
        """(partition, key, value) of events ``start`` to ``stop - 1``, ts = now."""
        ts = datetime.now(UTC).isoformat(timespec="milliseconds")
        run, accounts = self.run, self.accounts
        for i in range(start, stop):
            a = i % accounts
            value = (
                f'{{"event_id":"{run:016x}{i:016x}","type":"feature_used","ts":"{ts}",'
                f'"account_id":"fresh-acct-{a}","user_id":"fresh-user-{i % (accounts * 8)}",'
                '"feature":"reports"}'
            )
            yield self.partitions[a], self.keys[a], value.encode()


def new_producer(bootstrap: str, linger_ms: int = 20) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=linger_ms, max_batch_size=1 << 20, acks=1
    )


async def produce_records(
    bootstrap: str, topics: dict[str, str], records: Sequence[Record], timeout: float = 600
) -> float:
    """Send ``records`` in per-partition batches (key -> partition with the Java client's
    murmur2 partitioner, as ``producer.send(key=...)`` would); returns seconds taken."""
    producer = new_producer(bootstrap)
    await producer.start()
    partitioner = DefaultPartitioner()
    parts = list(range(PARTITIONS))
    try:
        async with asyncio.timeout(timeout):
            started = time.monotonic()
            batches: dict[tuple[str, int], Any] = {}
            futures = []
            for role, key, value in records:
                topic = topics[role]
                partition = partitioner(key, parts, parts) if key is not None else 0
                batch = batches.get((topic, partition))
                if batch is None:
                    batch = batches[(topic, partition)] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = batches[(topic, partition)] = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            for (topic, partition), batch in batches.items():
                if batch.record_count():
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*futures)
            return time.monotonic() - started
    finally:
        await producer.stop()
