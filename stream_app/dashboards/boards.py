"""The six boards, composed from the panels of the KPI groups and of the pipeline.

A group's panels are in ``stream_app/dashboards/groups/<name>.py``; the overview takes
every group's headline and trend panels, in export order.
"""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.builders import dashboard

from stream_app.dashboards import groups, pipeline
from stream_app.dashboards.panels import board


def overview() -> dashboard.Dashboard:
    return board(
        "cs-overview",
        "Customer success — overview",
        "The headline KPIs, live from the stream-app workers.",
        [
            ("Today", [panel for group in groups.ALL for panel in group.headline()]),
            ("Trends", [panel for group in groups.ALL for panel in group.trends()]),
        ],
    )


def engagement() -> dashboard.Dashboard:
    return board(
        "cs-engagement",
        "Customer success — engagement and onboarding",
        "Who uses the product, which features, and how new accounts get going.",
        groups.usage.rows() + groups.onboarding.rows(),
    )


def revenue() -> dashboard.Dashboard:
    return board(
        "cs-revenue",
        "Customer success — revenue and churn",
        "MRR, its movements, churn, retention, renewals and the cancellation baseline.",
        groups.revenue.rows(),
    )


def commerce() -> dashboard.Dashboard:
    return board(
        "cs-commerce",
        "Customer success — commerce and acquisition",
        "Checkouts and cart abandonment, orders, sales, average order value, repeat "
        "purchases, acquisition spend by category, CAC and CLV:CAC.",
        groups.commerce.rows() + groups.company.acquisition_rows(),
    )


def voice() -> dashboard.Dashboard:
    return board(
        "cs-voice",
        "Customer success — voice of customer and support",
        "Survey scores (NPS, CSAT, CES), support tickets, account health, social listening "
        "and employee voice (eNPS, satisfaction).",
        groups.health.rows() + groups.company.voice_rows(),
    )


def web() -> dashboard.Dashboard:
    return board(
        "cs-web",
        "Web engagement",
        "Visitors, sessions, bounce, pages per session, time on page, scroll, entry and exit "
        "pages, click-through by link, visitor intent and task completion.",
        groups.web.rows(),
    )


def pipeline_health() -> dashboard.Dashboard:
    return board(
        "cs-pipeline",
        "stream-app — pipeline health",
        "Events in, rejections, consumer lag, KPI freshness and the workers.",
        pipeline.rows(),
    )


#: every board, in the order of grafana/dashboards/ listings and the docs
BOARDS: tuple[Callable[[], dashboard.Dashboard], ...] = (
    overview,
    engagement,
    revenue,
    commerce,
    voice,
    web,
    pipeline_health,
)
