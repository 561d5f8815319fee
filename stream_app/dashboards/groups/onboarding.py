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
            "cs:activation:ratio = activated / new accounts of the last 30 days "
            "(cs_activated_accounts / cs_new_accounts).",
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
                    "cs:activation:ratio = cs_activated_accounts / cs_new_accounts: new "
                    "accounts of the last 30 days that reached activation.",
                    [("cs:activation:ratio", "activation")],
                    "percentunit",
                ),
                stat_panel(
                    "Adoption",
                    'cs:adoption:ratio = cs_adopted_accounts{window="30d"} / '
                    "cs_onboarded_accounts: onboarded accounts that adopted the product.",
                    [("cs:adoption:ratio", "adoption")],
                    "percentunit",
                ),
                stat_panel(
                    "New and activated accounts (30 d)",
                    "cs_new_accounts and cs_activated_accounts of the last 30 days.",
                    [
                        ('sum(cs_new_accounts{window="30d"})', "new"),
                        ('sum(cs_activated_accounts{window="30d"})', "activated"),
                    ],
                    "short",
                ),
                stat_panel(
                    "Referring users (30 d)",
                    "cs_referring_users: distinct users who sent a referral in 30 days.",
                    [('sum(cs_referring_users{window="30d"})', "referring")],
                    "short",
                ),
                time_panel(
                    "Time to first value",
                    "cs:time_to_first_value_seconds:p50 / :p90: histogram_quantile over "
                    "the buckets of cs_time_to_first_value_seconds summed by le.",
                    [
                        ("cs:time_to_first_value_seconds:p50", "p50"),
                        ("cs:time_to_first_value_seconds:p90", "p90"),
                    ],
                    "s",
                ),
                time_panel(
                    "Time to proficiency",
                    "cs:time_to_proficiency_seconds:p50 / :p90 from the gauge histogram "
                    "cs_time_to_proficiency_seconds, buckets summed by le first.",
                    [
                        ("cs:time_to_proficiency_seconds:p50", "p50"),
                        ("cs:time_to_proficiency_seconds:p90", "p90"),
                    ],
                    "s",
                ),
                bar_panel(
                    "Active days in the first week",
                    "Accounts by active days in their first 7 days "
                    "(cs_first_week_active_days buckets, le 0..7, shown per bucket). "
                    "Mean: cs:first_week_active_days:mean.",
                    [("sum by (le) (cs_first_week_active_days_bucket)", "{{le}}")],
                    "short",
                    heatmap=True,
                ),
                stat_panel(
                    "Mean active days in the first week",
                    "cs:first_week_active_days:mean = _gsum / _gcount of "
                    "cs_first_week_active_days, summed over the workers (0..7).",
                    [("cs:first_week_active_days:mean", "days")],
                    "none",
                    h=8,
                    decimals=1,
                ),
            ],
        ),
    ]
