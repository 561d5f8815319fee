"""Panels of the usage group (stream_app/kpi/groups/usage/): active users, stickiness
and feature adoption. Rules: prometheus/rules/usage.yml; docs: docs/kpis.md#group-usage.
"""

from __future__ import annotations

from stream_app.dashboards.panels import (
    Panels,
    Rows,
    Steps,
    bar_panel,
    matrix_panel,
    stat_panel,
    time_panel,
)

# rules of thumb (docs/observability.md#thresholds)
STICKINESS: Steps = [(None, "red"), (0.10, "orange"), (0.13, "green")]
FEATURE_ADOPTION: Steps = [(None, "orange"), (0.28, "green")]
# week-k retention of a signup cohort: no industry figure; a neutral ramp
RETENTION: Steps = [(None, "red"), (0.1, "orange"), (0.25, "yellow"), (0.4, "green")]
WEEKS = [str(k) for k in range(1, 12)]

STICKINESS_30D = (
    "The average daily active users over the 30 complete days before today, as a share "
    "of those days' monthly active users (today excluded, so no dip at midnight). This is "
    "the figure the industry quotes: above 13 % (about weekly use) is good. Formula: "
    "cs:stickiness_30d:ratio = sum(cs_user_active_days_gsum) / 30 / "
    "sum(cs_user_active_days_gcount)."
)

ACTIVE = [
    ('sum(cs_active_users{window="1d"})', "DAU"),
    ('sum(cs_active_users{window="7d"})', "WAU"),
    ('sum(cs_active_users{window="30d"})', "MAU"),
]


def headline() -> Panels:
    return [
        stat_panel(
            "Stickiness (30 d average DAU/MAU)",
            STICKINESS_30D,
            [("cs:stickiness_30d:ratio", "stickiness")],
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
                    "How often the month's users come back: the 30-day average of daily "
                    "actives over monthly ones (the benchmark figure; above 13 % is good, "
                    "dashed line) and, for the live view, today's actives so far and the "
                    "week's actives over the month's (today's dips every midnight). "
                    "Formula: cs:stickiness_30d:ratio, cs:stickiness_dau_mau:ratio, "
                    "cs:stickiness_wau_mau:ratio.",
                    [
                        ("cs:stickiness_30d:ratio", "average DAU/MAU (30 complete days)"),
                        ("cs:stickiness_dau_mau:ratio", "DAU today so far/MAU"),
                        ("cs:stickiness_wau_mau:ratio", "WAU/MAU"),
                    ],
                    "percentunit",
                    STICKINESS,
                ),
                bar_panel(
                    "Users by active days (30 complete days)",
                    "Users active in the 30 complete days before today, by their number of "
                    "active days (each bar: at most that many days; PostHog's stickiness "
                    "view), summed over the workers. Formula: "
                    "sum by (le) (cs_user_active_days_bucket).",
                    [
                        (
                            "sum by (le) (cs_user_active_days_bucket)",
                            "≤ {{le}} days",
                        )
                    ],
                    "short",
                    heatmap=True,
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
        (
            "Retention by signup cohort",
            [
                matrix_panel(
                    "User retention by signup week",
                    "Of the users who signed up in the week (from Monday 00:00 in "
                    "CS_TIMEZONE, row), the share with a product event in the k-th week "
                    "after it (column k); the 12 latest cohorts, weeks started so far. "
                    "Formula: cs:cohort_retention_users:ratio.",
                    "cs:cohort_retention_users:ratio",
                    "cohort",
                    WEEKS,
                    "percentunit",
                    RETENTION,
                    column_label="week",
                ),
                matrix_panel(
                    "Account retention by signup week",
                    "Accounts by the week of their first user signup (row); an account is "
                    "retained in week k (column) when any of its users has a product event "
                    "in it. Formula: cs:cohort_retention_accounts:ratio.",
                    "cs:cohort_retention_accounts:ratio",
                    "cohort",
                    WEEKS,
                    "percentunit",
                    RETENTION,
                    column_label="week",
                ),
                time_panel(
                    "Cohort sizes",
                    "Users and accounts by signup week (the 12 latest weeks), summed over "
                    "the workers. Formula: sum by (cohort) (cs_cohort_users) and "
                    "sum by (cohort) (cs_cohort_accounts).",
                    [
                        ("sum by (cohort) (cs_cohort_users)", "users {{cohort}}"),
                        ("sum by (cohort) (cs_cohort_accounts)", "accounts {{cohort}}"),
                    ],
                    "short",
                    w=24,
                ),
            ],
        ),
    ]
