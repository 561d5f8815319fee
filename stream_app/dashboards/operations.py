"""The voice-of-customer and support board, and the pipeline-health board."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from stream_app.dashboards.panels import (
    CES_7,
    CSAT,
    LAG,
    NPS,
    REJECTED,
    STALENESS,
    band_panel,
    bar_panel,
    board,
    stat_panel,
    time_panel,
)

RATE = "$__rate_interval"


def voice() -> dashboard.Dashboard:
    return board(
        "cs-voice",
        "Customer success — voice of customer and support",
        "Survey scores (NPS, CSAT, CES), support tickets and account health.",
        [
            (
                "Surveys (90 days)",
                [
                    stat_panel(
                        "NPS",
                        "cs:nps:score = 100 x (answers 9-10 - answers 0-6) / all NPS answers "
                        "of 90 days (cs_survey_responses). Above 0 is good, 20 great, 50 "
                        "excellent.",
                        [("cs:nps:score", "NPS")],
                        "none",
                        NPS,
                        decimals=0,
                    ),
                    stat_panel(
                        "CSAT",
                        "cs:csat:ratio = CSAT answers rated 4 or 5 / all CSAT answers of 90 "
                        "days. 75-85 % is good.",
                        [("cs:csat:ratio", "CSAT")],
                        "percentunit",
                        CSAT,
                    ),
                    stat_panel(
                        "CES (1-7, lower is better)",
                        "cs:ces:mean = sum(score x answers) / answers of the CES survey "
                        "(1-7) over 90 days. 1-3 is good on a 7-point scale.",
                        [("cs:ces:mean", "CES")],
                        "none",
                        CES_7,
                        decimals=2,
                    ),
                    stat_panel(
                        "Survey answers",
                        'cs_survey_responses{window="90d"} summed by survey.',
                        [('sum by (survey) (cs_survey_responses{window="90d"})', "{{survey}}")],
                        "short",
                    ),
                    time_panel(
                        "NPS",
                        "cs:nps:score over time; dashed lines at 0, 20 and 50.",
                        [("cs:nps:score", "NPS")],
                        "none",
                        NPS,
                    ),
                    bar_panel(
                        "NPS answers by score",
                        'cs_survey_responses{survey="nps"} by score: detractors 0-6, '
                        "passives 7-8, promoters 9-10.",
                        [
                            (
                                'sum by (score) (cs_survey_responses{survey="nps",window="90d"})',
                                "{{score}}",
                            )
                        ],
                        "short",
                    ),
                ],
            ),
            (
                "Support (30 days) and health",
                [
                    stat_panel(
                        "First-contact resolution",
                        "cs:first_contact_resolution_30d:ratio = tickets resolved at the "
                        "first contact / tickets resolved in 30 days.",
                        [("cs:first_contact_resolution_30d:ratio", "FCR")],
                        "percentunit",
                    ),
                    stat_panel(
                        "Mean time to resolve",
                        "cs:mttr_seconds = _gsum / _gcount of cs_ticket_resolution_seconds, "
                        "summed over the workers first.",
                        [("cs:mttr_seconds", "MTTR")],
                        "s",
                    ),
                    stat_panel(
                        "Tickets resolved",
                        'cs_tickets_resolved{window="30d"}: ticket resolutions in 30 days.',
                        [('sum(cs_tickets_resolved{window="30d"})', "resolved")],
                        "short",
                    ),
                    stat_panel(
                        "Tickets opened",
                        'cs_tickets_opened{window="30d"}: tickets opened in 30 days.',
                        [('sum(cs_tickets_opened{window="30d"})', "opened")],
                        "short",
                    ),
                    time_panel(
                        "Tickets opened by channel (30 d)",
                        'cs_tickets_opened{window="30d"} summed by channel.',
                        [
                            (
                                'sum by (channel) (cs_tickets_opened{window="30d"})',
                                "{{channel}}",
                            )
                        ],
                        "short",
                        stacked=True,
                    ),
                    band_panel(
                        "Accounts by health band",
                        "sum by (band) (cs_accounts_by_health): accounts in each health band "
                        "from usage, surveys, tickets and billing.",
                        "sum by (band) (cs_accounts_by_health)",
                        w=12,
                    ),
                ],
            ),
        ],
    )


def pipeline() -> dashboard.Dashboard:
    return board(
        "cs-pipeline",
        "stream-app — pipeline health",
        "Events in, rejections, consumer lag, KPI freshness and the workers.",
        [
            (
                "Now",
                [
                    stat_panel(
                        "Workers up",
                        'sum(up{job="stream-app"}): workers Prometheus can scrape.',
                        [('sum(up{job="stream-app"})', "up")],
                        "short",
                    ),
                    stat_panel(
                        "KPI freshness",
                        "cs:kpi_staleness_seconds = time() - the newest "
                        "stream_app_last_batch_timestamp_seconds: seconds since a worker "
                        "last applied a batch. KpisStale pages after 15 minutes.",
                        [("cs:kpi_staleness_seconds", "staleness")],
                        "s",
                        STALENESS,
                    ),
                    stat_panel(
                        "Consumer lag",
                        "cs:consumer_lag:sum = sum(stream_app_consumer_lag): messages of "
                        "the event topics not yet committed (highwater - committed offset).",
                        [("cs:consumer_lag:sum", "lag")],
                        "short",
                        LAG,
                    ),
                    stat_panel(
                        "Rejected share (5 m)",
                        "cs:events_rejected:ratio_rate5m = rejected / (accepted + duplicates "
                        "+ rejected) over 5 minutes. RejectedEventsHigh above 5 %.",
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
                        "sum by (type) (rate(cs_events_total[$__rate_interval])): accepted "
                        "events (each event_id once).",
                        [(f"sum by (type) (rate(cs_events_total[{RATE}]))", "{{type}}")],
                        "ops",
                        stacked=True,
                    ),
                    time_panel(
                        "Rejected events per second by reason",
                        "sum by (reason) (rate(cs_events_rejected_total[$__rate_interval])); "
                        "the events are in the dead-letter topic. Duplicates: "
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
                        "sum by (topic) (stream_app_consumer_lag): highwater - committed "
                        "offset over the partitions each worker owns.",
                        [("sum by (topic) (stream_app_consumer_lag)", "{{topic}}")],
                        "short",
                        LAG,
                        stacked=True,
                    ),
                    time_panel(
                        "KPI freshness by worker",
                        "time() - stream_app_last_batch_timestamp_seconds: seconds since each "
                        "worker applied its last batch.",
                        [("time() - stream_app_last_batch_timestamp_seconds", "{{instance}}")],
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
                        "sum by (outcome) (rate(stream_app_messages_total[$__rate_interval])): "
                        "applied, duplicate, rejected or redelivered (after a restart).",
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
                        "stream_app_partitions_owned: partitions of the event topics each "
                        "worker owns; a change is a rebalance.",
                        [("stream_app_partitions_owned", "{{instance}}")],
                        "short",
                    ),
                    time_panel(
                        "KPI group errors",
                        "sum by (group) (increase(cs_kpi_errors_total[$__rate_interval])): "
                        "events a KPI group failed to apply (a bug; see the worker log).",
                        [(f"sum by (group) (increase(cs_kpi_errors_total[{RATE}]))", "{{group}}")],
                        "short",
                    ),
                    time_panel(
                        "Batches per second",
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
        ],
    )
