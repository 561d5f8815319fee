"""Shared steps of the fault tests: a generated data set, produced to a test's topics,
and the comparison of worker metrics (summed over workers) with replay."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stream_app.dev.broker import create_topics
from stream_app.exposition import render
from stream_app.generator import GeneratorConfig, generate_history, write_jsonl
from stream_app.kpi.settings import KpiSettings
from stream_app.produce import produce
from stream_app.replay import replay
from stream_app.worker.app import SHELL_ONLY_FAMILIES
from tests.helpers import samples
from tests.worker_proc import WorkerProcess


def dataset(seed: int, accounts: int = 40, days: int = 20, **kw: Any) -> list[dict[str, object]]:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    return list(
        generate_history(GeneratorConfig(seed=seed, accounts=accounts, days=days, end=end, **kw))
    )


def topics_of(worker: WorkerProcess) -> dict[str, str]:
    return worker.topics


async def create_for(bootstrap: str, worker: WorkerProcess) -> None:
    names = [*topics_of(worker).values(), worker.env["CS_TOPIC_DEAD_LETTERS"]]
    await create_topics(bootstrap, names, 4)


def send(bootstrap: str, worker: WorkerProcess, events: Iterable[dict[str, object]]) -> int:
    return asyncio.run(produce(f"kafka://{bootstrap}", topics_of(worker), events))


def cs_sum(metrics: Sequence[dict[str, float]]) -> dict[str, float]:
    """cs_* samples summed over workers (what Prometheus's sum() does), less the families
    only a worker exports (forwards, fetch errors: replay has no Kafka)."""
    out: dict[str, float] = {}
    for m in metrics:
        for k, v in m.items():
            if k.startswith("cs_") and not k.startswith(SHELL_ONLY_FAMILIES):
                out[k] = out.get(k, 0.0) + v
    return out


def replayed(
    events: Iterable[dict[str, object]], tmp: Path, as_of: datetime, **settings: Any
) -> dict[str, float]:
    path = tmp / f"replay-{id(events)}.jsonl"
    write_jsonl(events, path)
    result = replay([path], KpiSettings(**settings), as_of=as_of)
    return {k: v for k, v in samples(render([result.core], as_of)).items() if k.startswith("cs_")}


def diff(
    live: dict[str, float], expected: dict[str, float]
) -> dict[str, tuple[float | None, float | None]]:
    """Samples that differ. Counts are exact; a sum of fractional seconds may differ in
    its last bits when workers add partial sums in another order (a + b + c against
    (a + b) + c), so floats are equal within 1e-12 relative (3188 vs 3189 is not)."""
    keys = set(live) | set(expected)
    return {
        k: (live.get(k), expected.get(k))
        for k in sorted(keys)
        if not _same(live.get(k), expected.get(k))
    }


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
