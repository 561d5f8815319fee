"""One exposition and one ``/progress`` from those of several worker processes.

``stream-app worker --processes N`` runs N workers of one consumer group behind one port
(:mod:`stream_app.worker.processes`). Their partitions are disjoint, so their samples add up
exactly as Prometheus's ``sum`` would add them over N scrape targets:

- every ``cs_*`` sample (the KPIs, and the Kafka-side counters) is summed, so the page
  is the one a single worker owning every partition would serve (``*_created`` samples,
  when a counter started: the earliest);
- the worker's own series (:data:`PER_PROCESS_PREFIX`: batches, partitions owned, the
  last batch's time, lag) keep one sample per process, labelled ``process="<i>"`` (at
  most N values): a process that owns partitions and applies nothing stays visible to
  the ``KpisStale`` alert, which matches on ``process`` too, and every rule sums them.

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

#: families of the worker itself, kept per process (label :data:`PROCESS_LABEL`)
PER_PROCESS_PREFIX = "stream_app_"
PROCESS_LABEL = "process"

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


def _combine(sample: str, old: float, new: float) -> float:
    return min(old, new) if sample.endswith("_created") else old + new


class _Merged(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def merge_expositions(pages: Sequence[str]) -> bytes:
    """The text exposition of ``pages`` (process ``i``'s page at index ``i``) merged:
    samples of the same name and labels summed, the worker's own labelled by process (see
    the module), families in first-seen order."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[SampleKey, float]] = {}
    for index, page in enumerate(pages):
        for fam in text_string_to_metric_families(page):
            into = families.get(fam.name)
            if into is None:
                into = families[fam.name] = Metric(fam.name, fam.documentation, fam.type)
                values[fam.name] = {}
            samples = values[fam.name]
            own = fam.name.startswith(PER_PROCESS_PREFIX)
            for s in fam.samples:
                labels = {**s.labels, PROCESS_LABEL: str(index)} if own else s.labels
                key = (s.name, tuple(sorted(labels.items())))
                old = samples.get(key)
                samples[key] = s.value if old is None else _combine(s.name, old, s.value)
    for name, fam in families.items():
        for (sample, label_items), value in values[name].items():
            fam.add_sample(sample, dict(label_items), value)
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
