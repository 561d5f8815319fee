"""``PartitionCore.ingest_batch``, the worker's hot loop (table-driven): duplicates,
redelivery after a restart, rejections and order; and that it agrees with ``ingest``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import orjson
import pytest

from stream_app.exposition import render
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev, samples

NOW = datetime.fromisoformat("2026-06-01T12:00:00+00:00").timestamp()
AS_OF = datetime.fromisoformat("2026-06-01T12:00:00+00:00")
A1 = ev(eid="1", ts="2026-06-01T10:00:00Z", user_id="u1")
A2 = ev(eid="2", ts="2026-06-01T10:05:00Z", user_id="u2")
A3 = ev(eid="3", ts="2026-05-31T09:00:00Z", user_id="u3")  # a day earlier: late
B1 = ev(eid="1", ts="2026-06-01T10:00:00Z", account="beta", user_id="u9")  # same id, other key
BAD = b'{"event_id": "x", "type": "session_started"}'
BILLING = ev("invoice_paid", eid="9", ts="2026-06-01T10:00:00Z", amount=100, currency="USD")
FUTURE = ev(eid="4", ts="2026-06-01T13:00:00Z")


def msgs(*values: bytes, start: int = 0) -> list[tuple[bytes | None, bytes | None, int]]:
    """(value, key, offset) messages keyed by their account id, at offsets from ``start``."""
    return [(v, _key(v), start + i) for i, v in enumerate(values)]


def _key(value: bytes) -> bytes:
    try:
        return str(orjson.loads(value)["account_id"]).encode()
    except (ValueError, KeyError):
        return b"acme"


@dataclass
class Case:
    name: str
    batches: list[list[tuple[bytes | None, bytes | None, int]]]
    outcomes: dict[str, int]
    rejected: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0
    dau: int = 0


CASES = [
    Case("applied in order", [msgs(A1, A2)], {"applied": 2}, dau=2),
    Case("a copy counts once", [msgs(A1, A1, A2)], {"applied": 2, "duplicate": 1}, [], 1, 2),
    Case(
        "a copy in a later batch counts once",
        [msgs(A1), msgs(A2, A1, start=1)],
        {"applied": 2, "duplicate": 1},
        [],
        1,
        2,
    ),
    Case("the same id under another key is no copy", [msgs(A1, B1)], {"applied": 2}, dau=2),
    Case(
        "a redelivered batch is skipped silently",
        [msgs(A1, A2), msgs(A1, A2)],
        {"applied": 2, "redelivered": 2},
        dau=2,
    ),
    Case(
        "an overlapping redelivery applies only the new offsets",
        [msgs(A1), msgs(A1, A2, start=0)],
        {"applied": 2, "redelivered": 1},
        dau=2,
    ),
    Case(
        "rejections are counted with their offset and the stream goes on",
        [msgs(A1, BAD, BILLING, FUTURE, A2)],
        {"applied": 2, "rejected": 3},
        [(1, "missing_field"), (2, "wrong_topic"), (3, "future")],
        dau=2,
    ),
    Case(
        "a key that differs from the account is a key_mismatch",
        [[(A1, b"beta", 0), (A2, b"acme", 1)]],
        {"applied": 1, "rejected": 1},
        [(0, "key_mismatch")],
        dau=1,
    ),
    Case("a late event lands on its own day", [msgs(A3, A1)], {"applied": 2}, dau=1),
    Case(
        "an empty value is rejected", [[(None, b"acme", 0)]], {"rejected": 1}, [(0, "invalid_json")]
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_ingest_batch(case: Case) -> None:
    core = PartitionCore(KpiSettings())
    outcomes: dict[str, int] = {}
    rejected: list[tuple[int, str]] = []
    for batch in case.batches:
        got, why = core.ingest_batch(batch, "product", now=NOW, future_tolerance_s=300.0)
        for name, n in got.items():
            outcomes[name] = outcomes.get(name, 0) + n
        rejected += [(offset, r.reason) for offset, r in why]
    assert outcomes == case.outcomes
    assert rejected == case.rejected
    assert core.duplicates == case.duplicates
    assert core.offsets["product"] == max(m[2] for b in case.batches for m in b)
    exposition = samples(render([core], AS_OF))
    assert exposition['cs_active_users{window="1d"}'] == case.dau
    assert sum(core.rejected.values()) == len(case.rejected)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_ingest_batch_equals_ingest_one_by_one(case: Case) -> None:
    batch_core = PartitionCore(KpiSettings())
    single = PartitionCore(KpiSettings())
    for batch in case.batches:
        batch_core.ingest_batch(batch, "product", now=NOW, future_tolerance_s=300.0)
        for value, key, offset in batch:
            single.ingest(value or b"", "product", key, offset, now=NOW, future_tolerance_s=300.0)
    assert render([batch_core], AS_OF) == render([single], AS_OF)
    assert batch_core.offsets == single.offsets


def test_restart_from_state_skips_what_the_state_holds() -> None:
    """A worker restarted from its last records (keys written, meta lost) re-reads the
    batch: offsets already in a key's state are skipped, the rest applied once."""
    first = PartitionCore(KpiSettings())
    first.ingest_batch(msgs(A1, A2), "product", now=NOW)
    restored = PartitionCore(KpiSettings())
    for name, record in first.take_dirty():
        restored.load_key(name, record)
    outcomes, _ = restored.ingest_batch(msgs(A1, A2, B1), "product", now=NOW)
    assert outcomes == {"redelivered": 2, "applied": 1}
    assert render([restored], AS_OF) != render([first], AS_OF)  # beta is new
    first.ingest_batch(msgs(B1, start=2), "product", now=NOW)
    assert render([restored], AS_OF) == render([first], AS_OF)


def test_restart_with_meta_skips_rejections_too() -> None:
    first = PartitionCore(KpiSettings())
    first.ingest_batch(msgs(A1, BAD), "product", now=NOW)
    restored = PartitionCore(KpiSettings())
    for name, record in first.take_dirty():
        restored.load_key(name, record)
    restored.load_meta(first.meta_record())
    outcomes, rejected = restored.ingest_batch(msgs(A1, BAD), "product", now=NOW)
    assert outcomes == {"redelivered": 2}
    assert rejected == []
    assert restored.rejected == {"missing_field": 1}
