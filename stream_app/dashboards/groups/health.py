"""Panels of the health group (stream_app/kpi/groups/health/): voice of the customer
(NPS, CSAT, CES), support tickets and account health bands. Rules:
prometheus/rules/health.yml; docs: docs/kpis.md#group-health.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as parts
from grafana_foundation_sdk.builders import piechart
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.piechart import PieChartType

from stream_app.dashboards.panels import (
    DATASOURCE,
    Panels,
    Rows,
    Steps,
    bar_panel,
    stat_panel,
    targets,
    time_panel,
)

# rules of thumb (docs/observability.md#thresholds)
NPS: Steps = [(None, "red"), (0, "yellow"), (20, "green"), (50, "dark-green")]
CSAT: Steps = [(None, "red"), (0.60, "orange"), (0.75, "green"), (0.85, "dark-green")]
CES_7: Steps = [(None, "green"), (3, "orange"), (4, "red")]
HEALTH_COLOURS = {"healthy": "green", "at_risk": "orange", "critical": "red"}


def band_panel(title: str, description: str, expr: str, *, w: int = 8, h: int = 8) -> Builder:
    """Accounts by health band: a donut with the bands in their traffic-light colours."""
    panel = (
        piechart.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets([(expr, "{{band}}")], instant=True))
        .unit("short")
        .pie_type(PieChartType.DONUT)
        .reduce_options(parts.ReduceDataOptions().calcs(["lastNotNull"]))
        .span(w)
        .height(h)
    )
    for band, colour in HEALTH_COLOURS.items():
        panel = panel.override_by_name(
            band,
            [
                model.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": colour}
                )
            ],
        )
    return panel


def headline() -> Panels:
    return [
        stat_panel(
            "NPS (90 d)",
            "Net Promoter Score of the last 90 days: promoters minus detractors, in "
            "points. Above 0 is good, 20 great, 50 excellent. Formula: cs:nps:score = "
            "100 x (answers 9-10 - answers 0-6) / all NPS answers.",
            [("cs:nps:score", "NPS")],
            "none",
            NPS,
            decimals=0,
            h=8,
        ),
        band_panel(
            "Accounts by health band",
            "Accounts that are not churned, by health band (healthy, at risk, "
            "critical). Formula: sum by (band) (cs_accounts_by_health).",
            "sum by (band) (cs_accounts_by_health)",
            w=12,
            h=8,
        ),
    ]


def trends() -> Panels:
    return []


def rows() -> Rows:
    return [
        (
            "Surveys (90 days)",
            [
                stat_panel(
                    "NPS",
                    "Net Promoter Score of the last 90 days: promoters minus detractors, "
                    "in points. Above 0 is good, 20 great, 50 excellent. Formula: "
                    "cs:nps:score = 100 x (answers 9-10 - answers 0-6) / all NPS answers "
                    "(cs_survey_responses).",
                    [("cs:nps:score", "NPS")],
                    "none",
                    NPS,
                    decimals=0,
                ),
                stat_panel(
                    "CSAT",
                    "Share of satisfied customers (CSAT answers rated 4 or 5) in the last "
                    "90 days. 75-85 % is good. Formula: cs:csat:ratio = answers 4-5 / all "
                    "CSAT answers.",
                    [("cs:csat:ratio", "CSAT")],
                    "percentunit",
                    CSAT,
                ),
                stat_panel(
                    "CES (1-7, lower is better)",
                    "How much effort customers say it took to get things done, on average "
                    "(1-7, lower is better; 1-3 is good), last 90 days. Formula: "
                    "cs:ces:mean = sum(score x answers) / answers of the CES survey.",
                    [("cs:ces:mean", "CES")],
                    "none",
                    CES_7,
                    decimals=2,
                ),
                stat_panel(
                    "Survey answers",
                    "Survey answers of the last 90 days, per survey. Formula: "
                    'sum by (survey) (cs_survey_responses{window="90d"}).',
                    [('sum by (survey) (cs_survey_responses{window="90d"})', "{{survey}}")],
                    "short",
                ),
                time_panel(
                    "NPS",
                    "Net Promoter Score over time; dashed lines at 0 (good), 20 (great) "
                    "and 50 (excellent). Formula: cs:nps:score.",
                    [("cs:nps:score", "NPS")],
                    "none",
                    NPS,
                ),
                bar_panel(
                    "NPS answers by score",
                    "NPS answers of the last 90 days per score: detractors 0-6, passives "
                    '7-8, promoters 9-10. Formula: cs_survey_responses{survey="nps"} '
                    "by score.",
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
                    "Share of the tickets resolved in 30 days that took a single contact. "
                    "Formula: cs:first_contact_resolution_30d:ratio = resolved at the "
                    "first contact / resolved.",
                    [("cs:first_contact_resolution_30d:ratio", "FCR")],
                    "percentunit",
                ),
                stat_panel(
                    "Mean time to resolve",
                    "Mean time from opening a ticket to resolving it, tickets resolved in "
                    "30 days. Formula: cs:mttr_seconds = _gsum / _gcount of "
                    "cs_ticket_resolution_seconds, summed over the workers first.",
                    [("cs:mttr_seconds", "MTTR")],
                    "s",
                ),
                stat_panel(
                    "Tickets resolved",
                    "Tickets resolved in the last 30 days. Formula: "
                    'sum(cs_tickets_resolved{window="30d"}).',
                    [('sum(cs_tickets_resolved{window="30d"})', "resolved")],
                    "short",
                ),
                stat_panel(
                    "Tickets opened",
                    "Tickets opened in the last 30 days. Formula: "
                    'sum(cs_tickets_opened{window="30d"}).',
                    [('sum(cs_tickets_opened{window="30d"})', "opened")],
                    "short",
                ),
                time_panel(
                    "Tickets opened by channel (30 d)",
                    "Tickets opened in the last 30 days, per channel. Formula: "
                    'sum by (channel) (cs_tickets_opened{window="30d"}).',
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
                    "Accounts in each health band, judged from usage, surveys, tickets "
                    "and billing (docs/health.md). Formula: "
                    "sum by (band) (cs_accounts_by_health).",
                    "sum by (band) (cs_accounts_by_health)",
                    w=12,
                ),
            ],
        ),
    ]
