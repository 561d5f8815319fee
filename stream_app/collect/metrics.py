"""The collector's own Prometheus metrics (one registry per collector): every sample of a
fixed label set is exported, zeros too; no label carries an id or free text."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from stream_app.contract import REJECTION_REASONS

#: what happened to an event that reached the collector
OUTCOMES = ("accepted", "rejected", "unavailable", "rate_limited", "refused")
#: the endpoints (label ``endpoint``); anything else is ``other``
ENDPOINTS = ("events", "web", "other")
#: the status codes the collector answers with
CODES = ("202", "204", "400", "401", "403", "404", "405", "413", "415", "429", "503", "200")


class CollectMetrics:
    def __init__(self) -> None:
        disable_created_metrics()  # the collector's own process: no *_created samples
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter(
            "cs_collect_events",
            "Events that reached the collector, by outcome (accepted = acknowledged by Kafka)",
            ["outcome"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "cs_collect_rejected",
            "Events refused by the contract, by reason (the reasons of cs_events_rejected_total)",
            ["reason"],
            registry=self.registry,
        )
        self.requests = Counter(
            "cs_collect_requests",
            "HTTP requests answered, by endpoint and status code",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cs_collect_request_duration_seconds",
            "Time from request to answer (including the wait for the broker's acknowledgement)",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "cs_collect_requests_in_flight",
            "Requests being answered (most of them waiting for the broker's acknowledgement)",
            registry=self.registry,
        )
        for outcome in OUTCOMES:
            self.events.labels(outcome)
        for reason in REJECTION_REASONS:
            self.rejected.labels(reason)
        for endpoint in ENDPOINTS:
            self.latency.labels(endpoint)
            for code in CODES:
                self.requests.labels(endpoint, code)
