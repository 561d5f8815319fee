"""Panels of the usage group (stream_app/kpi/groups/usage/): active users, stickiness
and feature adoption. Rules: prometheus/rules/usage.yml; docs: docs/kpis.md#group-usage.
"""

from __future__ import annotations

from stream_app.dashboards.panels import Panels, Rows, Steps, bar_panel, stat_panel, time_panel

# rules of thumb (docs/observability.md#thresholds)
STICKINESS: Steps = [(None, "red"), (0.10, "orange"), (0.13, "green")]
FEATURE_ADOPTION: Steps = [(None, "orange"), (0.28, "green")]

ACTIVE = [
    ('sum(cs_active_users{window="1d"})', "DAU"),
    ('sum(cs_active_users{window="7d"})', "WAU"),
    ('sum(cs_active_users{window="30d"})', "MAU"),
]


def headline() -> Panels:
    return [
        stat_panel(
            "Stickiness (DAU/MAU)",
            "How many of the month's active users came back today (today so far). "
            "Above 13 % (about weekly use) is good; higher is better. Formula: "
            'cs:stickiness_dau_mau:ratio = sum(cs_active_users{window="1d"}) / '
            'sum(cs_active_users{window="30d"}), summed over the workers first.',
            [("cs:stickiness_dau_mau:ratio", "DAU/MAU")],
            "percentunit",
            STICKINESS,
            w=4,
        ),
        stat_panel(
            "Active users",
            "Distinct users with a product event today so far (DAU), in the last 7 "
            "days (WAU) and 30 days (MAU). Formula: sum by (window) (cs_active_users).",
            ACTIVE,
            "short",
            w=8,
        ),
    ]


def trends() -> Panels:
    return [
        time_panel(
            "Active users",
            "Daily, weekly and monthly active users over time (DAU counts today so "
            "far). Formula: sum by (window) (cs_active_users), over the workers.",
            ACTIVE,
            "short",
        ),
    ]


def rows() -> Rows:
    return [
        (
            "Engagement",
            [
                time_panel(
                    "Active users",
                    "Distinct users with a product event in each window. Formula: "
                    "sum by (window) (cs_active_users), over the workers.",
                    ACTIVE,
                    "short",
                ),
                time_panel(
                    "Stickiness",
                    "How often the month's users come back: daily and weekly actives as a "
                    "share of monthly ones; DAU/MAU above 13 % is good (dashed line). "
                    "Formula: cs:stickiness_dau_mau:ratio, cs:stickiness_wau_mau:ratio.",
                    [
                        ("cs:stickiness_dau_mau:ratio", "DAU/MAU"),
                        ("cs:stickiness_wau_mau:ratio", "WAU/MAU"),
                    ],
                    "percentunit",
                    STICKINESS,
                ),
                bar_panel(
                    "Feature adoption (30 d)",
                    "Share of the month's active users who used each feature. About 28 % "
                    "signals good adoption. Formula: cs:feature_adoption:ratio = users "
                    "of the feature in 30 days / active users in 30 days.",
                    [("cs:feature_adoption:ratio", "{{feature}}")],
                    "percentunit",
                    FEATURE_ADOPTION,
                    max_value=1,
                ),
                time_panel(
                    "Feature users (30 d)",
                    "Distinct users of each feature in the last 30 days; features past "
                    'CS_FEATURE_LIMIT are folded into "other". Formula: '
                    'sum by (feature) (cs_feature_users{window="30d"}).',
                    [('sum by (feature) (cs_feature_users{window="30d"})', "{{feature}}")],
                    "short",
                ),
            ],
        ),
    ]
