"""Prometheus exposition of core families: a custom collector read at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from stream_app.kpi.core import PartitionCore
from stream_app.kpi.families import Family, merge


def read_families(cores: Iterable[PartitionCore], as_of: datetime) -> list[Family]:
    """Merged families of ``cores`` as of ``as_of``."""
    return merge(core.families(as_of) for core in cores)


def to_metric(fam: Family) -> Metric:
    metric = Metric(fam.name, fam.help, fam.kind)
    for (suffix, labels), value in fam.samples.items():
        metric.add_sample(fam.name + suffix, dict(labels), float(value))
    return metric


class KpiCollector(Collector):
    """Reads KPI state when Prometheus scrapes; ``cores`` and ``clock`` are injected.

    ``read`` (set by the caller around one ``generate_latest``): families already read,
    which a scrape then exposes instead of reading the cores itself (the worker reads
    them one core at a time: :meth:`stream_app.worker.app.KpiWorker.exposition`)."""

    def __init__(
        self, cores: Callable[[], Iterable[PartitionCore]], clock: Callable[[], datetime]
    ) -> None:
        self._cores = cores
        self.clock = clock
        self.read: list[Family] | None = None

    def collect(self) -> Iterator[Metric]:
        families = self.read
        if families is None:
            families = read_families(self._cores(), self.clock())
        for fam in families:
            yield to_metric(fam)


def render(cores: Iterable[PartitionCore], as_of: datetime) -> bytes:
    """Text exposition of every ``cs_*`` family, as ``replay`` writes it."""
    registry = CollectorRegistry(auto_describe=False)
    frozen = list(cores)
    registry.register(KpiCollector(lambda: frozen, lambda: as_of))
    return generate_latest(registry)
