"""One exposition and one ``/progress`` from those of several worker processes.

``stream-app worker --processes N`` runs N workers of one consumer group behind one port
(:mod:`stream_app.worker.processes`). Their partitions are disjoint, so their samples add up
exactly as Prometheus's ``sum`` would add them over N scrape targets: every sample is
summed, except

- ``*_created`` samples (when a counter started): the earliest;
- :data:`LATEST_FAMILIES` (wall-clock times of an event in the worker): the latest.

The text is parsed with prometheus-client's parser and written with its writer, so the
merged page has the families, types and help of the processes' pages, in their order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

#: families whose samples are a time: the merged value is the latest of the processes'
LATEST_FAMILIES = frozenset({"stream_app_last_batch_timestamp_seconds"})

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


def _combine(family: str, sample: str, old: float, new: float) -> float:
    if sample.endswith("_created"):
        return min(old, new)
    if family in LATEST_FAMILIES:
        return max(old, new)
    return old + new


class _Merged(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def merge_expositions(pages: Sequence[str]) -> bytes:
    """The text exposition of ``pages`` (one per process) merged: samples of the same name
    and labels combined (summed, see the module), families in first-seen order."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[SampleKey, float]] = {}
    for page in pages:
        for fam in text_string_to_metric_families(page):
            into = families.get(fam.name)
            if into is None:
                into = families[fam.name] = Metric(fam.name, fam.documentation, fam.type)
                values[fam.name] = {}
            samples = values[fam.name]
            for s in fam.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                old = samples.get(key)
                samples[key] = s.value if old is None else _combine(fam.name, s.name, old, s.value)
    for name, fam in families.items():
        for (sample, labels), value in values[name].items():
            fam.add_sample(sample, dict(labels), value)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(list(families.values())))
    return generate_latest(registry)


def merge_progress(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One ``/progress`` of several processes' (each as ``KpiWorker.progress`` gives it):
    messages handled and trimmed summed, partitions joined, the first batch the earliest,
    the last batch and the last trim the latest (None while no process has one)."""

    def earliest(field: str) -> Any:
        found = [a[field] for a in answers if a.get(field) is not None]
        return min(found) if found else None

    def latest(field: str) -> Any:
        found = [a[field] for a in answers if a.get(field) is not None]
        return max(found) if found else None

    trims = [a.get("trimmed_handled") for a in answers]
    return {
        "handled": sum(a["handled"] for a in answers),
        "first_batch_at": earliest("first_batch_at"),
        "last_batch_at": latest("last_batch_at"),
        "partitions": sorted({p for a in answers for p in a["partitions"]}),
        "core": answers[0]["core"] if answers else None,
        # every process has trimmed once caught up: what they held then, summed
        "trimmed_at": latest("trimmed_at") if all(t is not None for t in trims) else None,
        "trimmed_handled": sum(trims) if trims and all(t is not None for t in trims) else None,
    }
