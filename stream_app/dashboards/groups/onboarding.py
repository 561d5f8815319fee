"""Panels of the onboarding group (stream_app/kpi/groups/onboarding/): activation,
adoption, time to first value and to proficiency, the first week. Rules:
prometheus/rules/onboarding.yml; docs: docs/kpis.md#group-onboarding.
"""

from __future__ import annotations

from stream_app.dashboards.panels import Panels, Rows, bar_panel, stat_panel, time_panel


def headline() -> Panels:
    return [
        stat_panel(
            "Activation (30 d)",
            "Share of the accounts that signed up in the last 30 days and reached "
            "activation. Formula: cs:activation:ratio = cs_activated_accounts / "
            "cs_new_accounts.",
            [("cs:activation:ratio", "activation")],
            "percentunit",
            w=4,
        ),
    ]


def trends() -> Panels:
    return []


def rows() -> Rows:
    return [
        (
            "Onboarding",
            [
                stat_panel(
                    "Activation (30 d)",
                    "Share of the accounts that signed up in the last 30 days and reached "
                    "activation. Formula: cs:activation:ratio = cs_activated_accounts / "
                    "cs_new_accounts.",
                    [("cs:activation:ratio", "activation")],
                    "percentunit",
                ),
                stat_panel(
                    "Adoption",
                    "Share of the onboarded accounts that use the product regularly "
                    "(active on CS_ADOPTION_MIN_DAYS days of the last 30). Formula: "
                    'cs:adoption:ratio = cs_adopted_accounts{window="30d"} / '
                    "cs_onboarded_accounts.",
                    [("cs:adoption:ratio", "adoption")],
                    "percentunit",
                ),
                stat_panel(
                    "New and activated accounts (30 d)",
                    "Accounts that signed up in the last 30 days, and those of them that "
                    "reached activation. Formula: cs_new_accounts, cs_activated_accounts.",
                    [
                        ('sum(cs_new_accounts{window="30d"})', "new"),
                        ('sum(cs_activated_accounts{window="30d"})', "activated"),
                    ],
                    "short",
                ),
                stat_panel(
                    "Referring users (30 d)",
                    "Distinct users who sent a referral in the last 30 days. Formula: "
                    'sum(cs_referring_users{window="30d"}).',
                    [('sum(cs_referring_users{window="30d"})', "referring")],
                    "short",
                ),
                time_panel(
                    "Time to first value",
                    "How long new accounts take from signing up to their first value "
                    "(median and 90th percentile, signups of 30 days). Formula: "
                    "cs:time_to_first_value_seconds:p50 / :p90, histogram_quantile over "
                    "the buckets of cs_time_to_first_value_seconds summed by le.",
                    [
                        ("cs:time_to_first_value_seconds:p50", "p50"),
                        ("cs:time_to_first_value_seconds:p90", "p90"),
                    ],
                    "s",
                ),
                time_panel(
                    "Time to proficiency",
                    "How long new accounts take from signing up to proficiency (median "
                    "and 90th percentile). Formula: cs:time_to_proficiency_seconds:p50 / "
                    ":p90 from the gauge histogram cs_time_to_proficiency_seconds.",
                    [
                        ("cs:time_to_proficiency_seconds:p50", "p50"),
                        ("cs:time_to_proficiency_seconds:p90", "p90"),
                    ],
                    "s",
                ),
                bar_panel(
                    "Active days in the first week",
                    "Accounts by the number of days they were active in their first "
                    "week. Formula: the buckets of cs_first_week_active_days (le 0..7), "
                    "shown per bucket.",
                    [("sum by (le) (cs_first_week_active_days_bucket)", "{{le}}")],
                    "short",
                    heatmap=True,
                ),
                stat_panel(
                    "Mean active days in the first week",
                    "On how many of their first 7 days new accounts used the product, on "
                    "average (0-7). Formula: cs:first_week_active_days:mean = _gsum / "
                    "_gcount of cs_first_week_active_days, summed over the workers.",
                    [("cs:first_week_active_days:mean", "days")],
                    "none",
                    h=8,
                    decimals=1,
                ),
            ],
        ),
    ]
