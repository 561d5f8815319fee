"""A busy key's event ids go to the changelog in sealed chunks (``stream_app/worker/
id_chunks.py``): its records stay small however many ids its dedupe horizon holds, a
commit writes only the chunks completed since the last one, and what the changelog holds
loads back into the same state, after any sequence of commits, dropped days and deaths
between two writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.exposition import render
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.keystate import Outcome
from stream_app.settings import Settings
from stream_app.worker.id_chunks import CHUNK_CHARS, CHUNK_PREFIX, IdChunks, chunk_key
from stream_app.worker.state import PartitionStates, Write, decode, encode

END = datetime(2026, 6, 1, 12, tzinfo=UTC)
NOW = (END + timedelta(minutes=5)).timestamp()
ACCOUNT = "busy-acct"
KEY = f"account_id:{ACCOUNT}".encode()
PARTITION = 0


def events(first: int, count: int, days_ago: int = 0) -> list[bytes]:
    """``count`` product events of one account, ids ``first``.., on the day ``days_ago``."""
    ts = (END - timedelta(days=days_ago)).isoformat(timespec="milliseconds")
    return [
        orjson.dumps(
            {
                "event_id": f"ev-{i:012d}",
                "type": "feature_used",
                "ts": ts,
                "account_id": ACCOUNT,
                "user_id": f"user-{i % 7}",
                "feature": "reports",
            }
        )
        for i in range(first, first + count)
    ]


class Changelog:
    """A compacted changelog: the latest value of each key (None deletes it)."""

    def __init__(self) -> None:
        self.store: dict[bytes, bytes] = {}
        self.written: list[Write] = []

    def apply(self, writes: Iterable[Write]) -> list[Write]:
        done = list(writes)
        for _p, key, value in done:
            if value is None:
                self.store.pop(key, None)
            else:
                self.store[key] = value
        self.written += done
        return done

    def named_chunks(self) -> set[bytes]:
        """The chunk keys the records name."""
        named: set[bytes] = set()
        for key, raw in self.store.items():
            if key.startswith(CHUNK_PREFIX) or key.startswith(b"m:"):
                continue
            for role, (g, count) in decode(raw).get("hc", {}).items():
                named |= {chunk_key(key, role, g, j) for j in range(count)}
        return named

    def chunks(self) -> set[bytes]:
        return {k for k in self.store if k.startswith(CHUNK_PREFIX)}


def ingest(states: PartitionStates, values: list[bytes], offset: int) -> list[Outcome]:
    core = states.core(PARTITION)
    outcomes = []
    for i, value in enumerate(values):
        outcome, _ = core.ingest(value, "product", ACCOUNT.encode(), offset + i, now=NOW)
        outcomes.append(outcome)
    return outcomes


def ids_of(core: PartitionCore) -> set[tuple[bytes, int]]:
    state = core.state("account_id", ACCOUNT)
    assert state is not None
    return {item for w in state.windows if w is not None for item in w.items()}


def loaded(log: Changelog) -> PartitionStates:
    states = PartitionStates(Settings(), dict(log.store))
    states.core(PARTITION)
    return states


def test_a_busy_keys_records_stay_small_and_load_whole() -> None:
    live = PartitionStates(Settings(), {})
    log = Changelog()
    ingest(live, events(0, 100_000), 0)
    writes = log.apply(live.persist([PARTITION]))
    # written whole, the record was 1.3 MB: past the broker's default message.max.bytes
    assert max(len(v) for _, _, v in writes if v is not None) < 4 * CHUNK_CHARS
    assert len(log.chunks()) == 100_000 * 16 // CHUNK_CHARS  # 16 base64 characters an id
    back = loaded(log)
    assert ids_of(back.cores[PARTITION]) == ids_of(live.cores[PARTITION])
    as_of = datetime.fromtimestamp(NOW, UTC)
    assert render([back.cores[PARTITION]], as_of) == render([live.cores[PARTITION]], as_of)
    # every id is remembered: the first and the last sent again are duplicates
    again = ingest(back, events(0, 1) + events(99_999, 1), 100_000)
    assert again == [Outcome.DUPLICATE, Outcome.DUPLICATE]


def test_a_commit_writes_only_the_chunks_completed_since_the_last() -> None:
    live = PartitionStates(Settings(), {})
    log = Changelog()
    ingest(live, events(0, 5_000), 0)
    first = log.apply(live.persist([PARTITION]))
    assert sum(k.startswith(CHUNK_PREFIX) for _, k, _ in first) == 5_000 * 16 // CHUNK_CHARS
    ingest(live, events(5_000, 600), 5_000)
    second = log.apply(live.persist([PARTITION]))
    done, now = 5_000 * 16 // CHUNK_CHARS, 5_600 * 16 // CHUNK_CHARS
    assert now > done
    assert [k for _, k, _ in second if k.startswith(CHUNK_PREFIX)] == [
        chunk_key(KEY, "product", 0, j) for j in range(done, now)
    ]
    assert ids_of(loaded(log).cores[PARTITION]) == ids_of(live.cores[PARTITION])


def test_a_dropped_day_writes_a_new_generation_and_deletes_the_old() -> None:
    live = PartitionStates(Settings(), {})
    log = Changelog()
    ingest(live, events(0, 2_000, days_ago=10) + events(2_000, 2_000, days_ago=9), 0)
    log.apply(live.persist([PARTITION]))
    old = log.chunks()
    assert old and all(k.startswith(b"i:0:") for k in old)
    ingest(live, events(4_000, 10, days_ago=2), 4_000)  # day -10 leaves the 7-day horizon
    writes = log.apply(live.persist([PARTITION]))
    deleted = {k for _, k, v in writes if v is None}
    assert deleted == old - log.chunks()  # generation 0 deleted
    assert log.chunks() == log.named_chunks() and all(k.startswith(b"i:1:") for k in log.chunks())
    back = loaded(log)
    assert ids_of(back.cores[PARTITION]) == ids_of(live.cores[PARTITION])
    assert ingest(back, events(2_500, 1, days_ago=9), 5_000) == [Outcome.DUPLICATE]


def test_chunks_no_record_names_are_deleted_by_the_next_write() -> None:
    """A worker that died after writing a new generation's chunks, before the record
    naming them: the record loads with its own chunks, the others are deleted."""
    live = PartitionStates(Settings(), {})
    log = Changelog()
    ingest(live, events(0, 3_000), 0)
    log.apply(live.persist([PARTITION]))
    orphan = chunk_key(KEY, "product", 1, 0)
    log.store[orphan] = encode({"p": PARTITION, "i": "A" * CHUNK_CHARS})
    back = loaded(log)
    assert ids_of(back.cores[PARTITION]) == ids_of(live.cores[PARTITION])
    writes = log.apply(back.persist([PARTITION]))
    assert (PARTITION, orphan, None) in writes
    assert log.chunks() == log.named_chunks()


def test_a_forgotten_key_deletes_its_chunks() -> None:
    chunks = IdChunks(PARTITION)
    text = "B" * (3 * CHUNK_CHARS + 16)
    record: dict[str, Any] = {"p": PARTITION, "h": {"product": text}, "g": {}}
    first = chunks.split(KEY, record, encode)
    written = [k for _, k, _ in first if k.startswith(CHUNK_PREFIX)]
    assert len(written) == 3
    gone = chunks.split(KEY, None, encode)
    assert gone == [(PARTITION, KEY, None), *((PARTITION, k, None) for k in written)]


def test_records_of_earlier_versions_and_small_keys_are_written_whole() -> None:
    chunks = IdChunks(PARTITION)
    record: dict[str, Any] = {"p": PARTITION, "h": {"product": "C" * (2 * CHUNK_CHARS - 16)}}
    assert chunks.split(KEY, record, encode) == [(PARTITION, KEY, encode(record))]


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 1_500),  # new ids
            st.integers(0, 12),  # on the day this many days ago
            st.integers(0, 30),  # ids sent again (from the first ones)
            st.booleans(),  # the worker dies after this commit's chunks, before the rest
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_commits_load_back_the_live_ids(steps: list[tuple[int, int, int, bool]]) -> None:
    live = PartitionStates(Settings(), {})
    log = Changelog()
    sent = 0
    offset = 0
    for new, days_ago, again, dies in steps:
        values = events(sent, new, days_ago) + events(0, min(again, sent), days_ago)
        ingest(live, values, offset)
        offset += len(values)
        sent += new
        writes = live.persist([PARTITION])
        if dies:  # the chunks reach the changelog, not what follows them
            log.apply(w for w in writes if w[1].startswith(CHUNK_PREFIX) and w[2] is not None)
            live = loaded(log)  # the worker starts again from the changelog
            # the events after the last complete commit are fetched again
            ingest(live, values, offset - len(values))
            writes = live.persist([PARTITION])
        log.apply(writes)
        assert log.chunks() == log.named_chunks()
        assert all(len(v) < 4 * CHUNK_CHARS for _, _, v in writes if v is not None)
        if sent:
            assert ids_of(loaded(log).cores[PARTITION]) == ids_of(live.cores[PARTITION])


def test_a_record_whose_chunks_went_missing_starts_a_new_generation() -> None:
    """A chunk lost from the changelog (not something this version writes): the key loads
    with the ids it still has, and its next write puts every chunk under a new generation
    and deletes the old one, so no chunk is left that no record names."""
    live = PartitionStates(Settings(), {})
    log = Changelog()
    ingest(live, events(0, 3_000), 0)
    log.apply(live.persist([PARTITION]))
    old = sorted(log.chunks())
    del log.store[chunk_key(KEY, "product", 0, 1)]  # the second chunk is lost
    back = loaded(log)
    assert len(ids_of(back.cores[PARTITION])) == 3_000 - CHUNK_CHARS // 16
    ingest(back, events(3_000, 10), 3_000)
    log.apply(back.persist([PARTITION]))
    assert log.chunks() == log.named_chunks()
    assert not set(old) & log.chunks()  # generation 0 deleted, chunk by chunk
    assert ids_of(loaded(log).cores[PARTITION]) == ids_of(back.cores[PARTITION])
