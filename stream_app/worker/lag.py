"""``stream_app_consumer_lag{topic}``: how far this worker is behind its event topics.

Read at scrape time from the Faust consumer: for each partition of the four event topics
assigned to this worker, the highwater (end offset, as of the consumer's last fetch)
minus the committed offset, summed per topic. Before the first commit of a partition
its whole log counts as lag. Partitions whose highwater is not known yet (no fetch so
far) are left out. Additive across workers like every other count.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class ConsumerLagCollector(Collector):
    """Sum of (highwater - committed offset) over the worker's partitions, per topic."""

    def __init__(self, app: Any, topics: Collection[str]) -> None:
        self._app = app
        self._topics = sorted(topics)

    def lag_by_topic(self) -> dict[str, int]:
        lag = dict.fromkeys(self._topics, 0)
        try:
            consumer = self._app.consumer
            assignment = consumer.assignment()
        except Exception:  # not started, or stopping: no partitions to report
            return lag
        # faust-streaming (pinned) keeps the last committed offset per partition here
        committed: Any = getattr(consumer, "_committed_offset", {})
        for tp in assignment:
            if tp.topic not in lag:
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # the partition was revoked between the two calls
                continue
            if highwater is None:
                continue
            done = committed.get(tp) or 0
            lag[tp.topic] += max(0, int(highwater) - int(done))
        return lag

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "stream_app_consumer_lag",
            "Messages of the event topics not yet committed by this worker "
            "(highwater - committed offset, summed over its partitions).",
            labels=["topic"],
        )
        for topic, value in self.lag_by_topic().items():
            family.add_metric([topic], value)
        yield family
