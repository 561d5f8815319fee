"""The customer-success boards: overview, engagement and onboarding."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.builder import Builder

from stream_app.dashboards.panels import (
    CHURN,
    FEATURE_ADOPTION,
    NPS,
    STICKINESS,
    band_panel,
    bar_panel,
    board,
    stat_panel,
    time_panel,
)

ACTIVE = [
    ('sum(cs_active_users{window="1d"})', "DAU"),
    ('sum(cs_active_users{window="7d"})', "WAU"),
    ('sum(cs_active_users{window="30d"})', "MAU"),
]


def stickiness(w: int = 4) -> Builder:
    return stat_panel(
        "Stickiness (DAU/MAU)",
        'cs:stickiness_dau_mau:ratio = sum(cs_active_users{window="1d"}) / '
        'sum(cs_active_users{window="30d"}), summed over the workers first. DAU counts '
        "today so far. Above 13 % (about weekly use) is good; higher is better.",
        [("cs:stickiness_dau_mau:ratio", "DAU/MAU")],
        "percentunit",
        STICKINESS,
        w=w,
    )


def overview() -> dashboard.Dashboard:
    return board(
        "cs-overview",
        "Customer success — overview",
        "The headline KPIs, live from the stream-app workers.",
        [
            (
                "Today",
                [
                    stickiness(),
                    stat_panel(
                        "Active users",
                        "Distinct users with a product event in the window: today so far "
                        "(DAU), the last 7 days (WAU) and 30 days (MAU); cs_active_users.",
                        ACTIVE,
                        "short",
                        w=8,
                    ),
                    stat_panel(
                        "Activation (30 d)",
                        "cs:activation:ratio = activated / new accounts of the last 30 days "
                        "(cs_activated_accounts / cs_new_accounts).",
                        [("cs:activation:ratio", "activation")],
                        "percentunit",
                        w=4,
                    ),
                    stat_panel(
                        "MRR",
                        "sum(cs_mrr): monthly recurring revenue of the paying accounts now, "
                        "in major units of the reporting currency (CS_CURRENCY).",
                        [("sum by (currency) (cs_mrr)", "{{currency}}")],
                        "short",
                        w=4,
                    ),
                    stat_panel(
                        "Net MRR churn (30 d)",
                        "cs:net_mrr_churn_30d:ratio = (churned + contraction - expansion - "
                        "reactivation MRR) / MRR at the start of the 30 days. Below 0 means "
                        "net expansion; read like customer churn.",
                        [("cs:net_mrr_churn_30d:ratio", "{{currency}}")],
                        "percentunit",
                        CHURN,
                        w=4,
                    ),
                    stat_panel(
                        "Customer churn (30 d)",
                        "cs:customer_churn_30d:ratio = accounts churned in the 30 days / paying "
                        "accounts at their start. 2-8 % is healthy; aim under 10 %.",
                        [("cs:customer_churn_30d:ratio", "churn")],
                        "percentunit",
                        CHURN,
                        h=8,
                    ),
                    stat_panel(
                        "NPS (90 d)",
                        "cs:nps:score = 100 x (promoters 9-10 - detractors 0-6) / all NPS "
                        "answers of 90 days. Above 0 is good, 20 great, 50 excellent.",
                        [("cs:nps:score", "NPS")],
                        "none",
                        NPS,
                        decimals=0,
                        h=8,
                    ),
                    band_panel(
                        "Accounts by health band",
                        "sum by (band) (cs_accounts_by_health): accounts per health band.",
                        "sum by (band) (cs_accounts_by_health)",
                        w=12,
                        h=8,
                    ),
                ],
            ),
            (
                "Trends",
                [
                    time_panel(
                        "Active users",
                        "DAU (today so far), WAU and MAU: distinct users with a product "
                        "event in the window, summed over the workers (cs_active_users).",
                        ACTIVE,
                        "short",
                    ),
                    time_panel(
                        "MRR",
                        "sum by (currency) (cs_mrr): monthly recurring revenue of the paying "
                        "accounts, in major units of the reporting currency.",
                        [("sum by (currency) (cs_mrr)", "MRR {{currency}}")],
                        "short",
                    ),
                ],
            ),
        ],
    )


def engagement() -> dashboard.Dashboard:
    return board(
        "cs-engagement",
        "Customer success — engagement and onboarding",
        "Who uses the product, which features, and how new accounts get going.",
        [
            (
                "Engagement",
                [
                    time_panel(
                        "Active users",
                        "cs_active_users by window: distinct users (account, user) with a "
                        "product event in the window, summed over the workers.",
                        ACTIVE,
                        "short",
                    ),
                    time_panel(
                        "Stickiness",
                        "cs:stickiness_dau_mau:ratio and cs:stickiness_wau_mau:ratio: DAU and "
                        "WAU over MAU. DAU/MAU above 13 % is good (dashed line).",
                        [
                            ("cs:stickiness_dau_mau:ratio", "DAU/MAU"),
                            ("cs:stickiness_wau_mau:ratio", "WAU/MAU"),
                        ],
                        "percentunit",
                        STICKINESS,
                    ),
                    bar_panel(
                        "Feature adoption (30 d)",
                        "cs:feature_adoption:ratio = users of the feature in 30 days / active "
                        "users in 30 days. About 28 % signals good adoption.",
                        [("cs:feature_adoption:ratio", "{{feature}}")],
                        "percentunit",
                        FEATURE_ADOPTION,
                        max_value=1,
                    ),
                    time_panel(
                        "Feature users (30 d)",
                        'cs_feature_users{window="30d"}: distinct users of each feature in '
                        '30 days; names past CS_FEATURE_LIMIT are folded into "other".',
                        [('sum by (feature) (cs_feature_users{window="30d"})', "{{feature}}")],
                        "short",
                    ),
                ],
            ),
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
        ],
    )
