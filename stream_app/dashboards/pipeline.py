"""Panels of the pipeline itself (no KPI group): workers, events in, rejections,
consumer lag and KPI freshness. Rules: prometheus/rules/pipeline.yml and the pipeline
alerts of prometheus/rules/alerts.yml; docs: docs/observability.md.
"""

from __future__ import annotations

from stream_app.dashboards.panels import Rows, Steps, stat_panel, time_panel

RATE = "$__rate_interval"
# rules of thumb (docs/observability.md#thresholds)
REJECTED: Steps = [(None, "green"), (0.01, "orange"), (0.05, "red")]
LAG: Steps = [(None, "green"), (1_000, "orange"), (10_000, "red")]
STALENESS: Steps = [(None, "green"), (60, "orange"), (900, "red")]


def rows() -> Rows:
    return [
        (
            "Now",
            [
                stat_panel(
                    "Workers up",
                    'Workers Prometheus can reach now. Formula: sum(up{job="stream-app"}).',
                    [('sum(up{job="stream-app"})', "up")],
                    "short",
                ),
                stat_panel(
                    "KPI freshness",
                    "Seconds since a worker last applied a batch; KpisStale pages after "
                    "15 minutes. Formula: cs:kpi_staleness_seconds = time() - the newest "
                    "stream_app_last_batch_timestamp_seconds.",
                    [("cs:kpi_staleness_seconds", "staleness")],
                    "s",
                    STALENESS,
                ),
                stat_panel(
                    "Consumer lag",
                    "Messages of the event topics the workers have not handled yet. "
                    "Formula: cs:consumer_lag:sum = sum(stream_app_consumer_lag) "
                    "(highwater - committed offset).",
                    [("cs:consumer_lag:sum", "lag")],
                    "short",
                    LAG,
                ),
                stat_panel(
                    "Rejected share (5 m)",
                    "Share of the incoming events rejected as invalid in the last 5 "
                    "minutes; RejectedEventsHigh fires above 5 %. Formula: "
                    "cs:events_rejected:ratio_rate5m = rejected / (accepted + duplicates "
                    "+ rejected).",
                    [("cs:events_rejected:ratio_rate5m", "rejected")],
                    "percentunit",
                    REJECTED,
                ),
            ],
        ),
        (
            "Flow",
            [
                time_panel(
                    "Events per second by type",
                    "Accepted events per second, by type (each event_id once). Formula: "
                    "sum by (type) (rate(cs_events_total[$__rate_interval])).",
                    [(f"sum by (type) (rate(cs_events_total[{RATE}]))", "{{type}}")],
                    "ops",
                    stacked=True,
                ),
                time_panel(
                    "Rejected events per second by reason",
                    "Rejected events per second, by reason; they are in the dead-letter "
                    "topic. Formula: sum by (reason) "
                    "(rate(cs_events_rejected_total[$__rate_interval])); duplicates: "
                    "cs_events_duplicate_total.",
                    [
                        (
                            f"sum by (reason) (rate(cs_events_rejected_total[{RATE}]))",
                            "{{reason}}",
                        ),
                        (f"sum(rate(cs_events_duplicate_total[{RATE}]))", "duplicates"),
                    ],
                    "ops",
                ),
                time_panel(
                    "Consumer lag by topic",
                    "Messages not handled yet, per event topic. Formula: sum by (topic) "
                    "(stream_app_consumer_lag): highwater - committed offset over the "
                    "partitions each worker owns.",
                    [("sum by (topic) (stream_app_consumer_lag)", "{{topic}}")],
                    "short",
                    LAG,
                    stacked=True,
                ),
                time_panel(
                    "KPI freshness by worker",
                    "Seconds since each worker (each process of `stream-app worker "
                    "--processes N`: label process) applied its last batch. Formula: "
                    "time() - stream_app_last_batch_timestamp_seconds.",
                    [
                        (
                            "time() - stream_app_last_batch_timestamp_seconds",
                            "{{instance}} {{process}}",
                        )
                    ],
                    "s",
                    STALENESS,
                ),
            ],
        ),
        (
            "Workers",
            [
                time_panel(
                    "Messages per second by outcome",
                    "Messages handled per second: applied, duplicate, rejected, or "
                    "redelivered after a restart. Formula: sum by (outcome) "
                    "(rate(stream_app_messages_total[$__rate_interval])).",
                    [
                        (
                            f"sum by (outcome) (rate(stream_app_messages_total[{RATE}]))",
                            "{{outcome}}",
                        )
                    ],
                    "ops",
                ),
                time_panel(
                    "Partitions owned by worker",
                    "Partitions of the event topics each worker (each process: label "
                    "process) owns; a change is a rebalance. Formula: "
                    "stream_app_partitions_owned.",
                    [("stream_app_partitions_owned", "{{instance}} {{process}}")],
                    "short",
                ),
                time_panel(
                    "KPI group errors",
                    "Events a KPI group failed to apply, by group (a bug; see the worker "
                    "log). Formula: sum by (group) "
                    "(increase(cs_kpi_errors_total[$__rate_interval])).",
                    [(f"sum by (group) (increase(cs_kpi_errors_total[{RATE}]))", "{{group}}")],
                    "short",
                ),
                time_panel(
                    "Batches per second",
                    "Record batches each worker applies per second. Formula: "
                    "sum by (instance) (rate(stream_app_batches_total[$__rate_interval])).",
                    [
                        (
                            f"sum by (instance) (rate(stream_app_batches_total[{RATE}]))",
                            "{{instance}}",
                        )
                    ],
                    "ops",
                ),
            ],
        ),
    ]
