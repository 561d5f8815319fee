"""Panels of the revenue group (stream_app/kpi/groups/revenue/): MRR and its movements,
churn, retention, renewals, upsell, ARPA and CLV, and the ChurnSpike baseline. Rules:
prometheus/rules/revenue.yml; docs: docs/kpis.md#group-revenue.
"""

from __future__ import annotations

from stream_app.dashboards.panels import (
    Panels,
    Rows,
    Steps,
    bar_panel,
    money_unit,
    stat_panel,
    time_panel,
)

# rules of thumb (docs/observability.md#thresholds)
CHURN: Steps = [(None, "green"), (0.08, "orange"), (0.10, "red")]
RETENTION: Steps = [(None, "red"), (0.80, "orange"), (0.90, "green")]
RENEWAL: Steps = [(None, "red"), (0.75, "orange"), (0.85, "green")]


def headline() -> Panels:
    return [
        stat_panel(
            "MRR",
            "Monthly recurring revenue of the accounts paying now, in the reporting "
            "currency (CS_CURRENCY). Formula: sum(cs_mrr).",
            [("sum by (currency) (cs_mrr)", "{{currency}}")],
            money_unit(),
            w=4,
        ),
        stat_panel(
            "Net MRR churn (30 d)",
            "Recurring revenue lost in the last 30 days, net of what existing "
            "customers added, as a share of the MRR 30 days ago; below 0 means the "
            "base grew. Formula: cs:net_mrr_churn_30d:ratio = (churn + contraction - "
            "expansion - reactivation MRR) / MRR at the window start.",
            [("cs:net_mrr_churn_30d:ratio", "{{currency}}")],
            "percentunit",
            CHURN,
            w=4,
        ),
        stat_panel(
            "Customer churn (30 d)",
            "Share of the accounts paying 30 days ago that no longer pay. 2-8 % is "
            "healthy; aim under 10 %. Formula: cs:customer_churn_30d:ratio = "
            "churned accounts / paying accounts at the window start.",
            [("cs:customer_churn_30d:ratio", "churn")],
            "percentunit",
            CHURN,
            h=8,
        ),
    ]


def trends() -> Panels:
    return [
        time_panel(
            "MRR",
            "Monthly recurring revenue of the paying accounts over time, in the "
            "reporting currency. Formula: sum by (currency) (cs_mrr).",
            [("sum by (currency) (cs_mrr)", "MRR {{currency}}")],
            money_unit(),
        ),
    ]


def rows() -> Rows:
    return [
        (
            "Revenue",
            [
                stat_panel(
                    "MRR",
                    "Monthly recurring revenue of the accounts paying now, in the "
                    "reporting currency. Formula: sum(cs_mrr).",
                    [("sum by (currency) (cs_mrr)", "{{currency}}")],
                    money_unit(),
                ),
                stat_panel(
                    "ARPA",
                    "Average monthly revenue per paying account. Formula: cs:arpa = "
                    'sum(cs_mrr) / sum(cs_accounts{status="paying"}).',
                    [("cs:arpa", "{{currency}}")],
                    money_unit(),
                ),
                stat_panel(
                    "CLV",
                    "What an average customer pays over its lifetime; compare it with the "
                    "cost of acquiring one (3-5 x CAC is the usual aim); empty while "
                    "nobody churns. Formula: cs:clv = ARPA / monthly customer churn rate.",
                    [("cs:clv", "{{currency}}")],
                    money_unit(),
                ),
                stat_panel(
                    "Revenue collected (30 d)",
                    "Money collected from paid invoices in the last 30 days. Formula: "
                    'sum(cs_revenue{window="30d"}).',
                    [('sum by (currency) (cs_revenue{window="30d"})', "{{currency}}")],
                    money_unit(),
                ),
                bar_panel(
                    "MRR movements (30 d)",
                    "Recurring revenue added in the last 30 days by new, reactivated and "
                    "expanding accounts, and lost to contraction and churn. Formula: "
                    'sum by (kind) (cs_mrr_movements{window="30d"}).',
                    [('sum by (kind) (cs_mrr_movements{window="30d"})', "{{kind}}")],
                    money_unit(),
                ),
                time_panel(
                    "MRR",
                    "Monthly recurring revenue over time. Formula: sum by (currency) (cs_mrr).",
                    [("sum by (currency) (cs_mrr)", "MRR {{currency}}")],
                    money_unit(),
                ),
            ],
        ),
        (
            "Churn and retention",
            [
                stat_panel(
                    "Customer churn (30 d)",
                    "Share of the accounts paying 30 days ago that no longer pay. 2-8 % "
                    "is healthy; aim under 10 %. Formula: cs:customer_churn_30d:ratio = "
                    "churned / paying at the window start.",
                    [("cs:customer_churn_30d:ratio", "churn")],
                    "percentunit",
                    CHURN,
                ),
                stat_panel(
                    "Retention CRR (30 d)",
                    "Share of the customers of 30 days ago that still pay, not counting "
                    "new ones. Aim for at least 90 %. Formula: cs:retention_30d:ratio = "
                    "(paying now - new paying) / paying at the window start.",
                    [("cs:retention_30d:ratio", "CRR")],
                    "percentunit",
                    RETENTION,
                ),
                stat_panel(
                    "Net MRR churn (30 d)",
                    "Recurring revenue lost in 30 days net of what customers added, as a "
                    "share of the MRR at the start; below 0: net expansion. Formula: "
                    "cs:net_mrr_churn_30d:ratio = (churn + contraction - expansion - "
                    "reactivation) / MRR at the window start.",
                    [("cs:net_mrr_churn_30d:ratio", "{{currency}}")],
                    "percentunit",
                    CHURN,
                ),
                stat_panel(
                    "Renewal rate (30 d)",
                    "Share of the subscriptions up for renewal in 30 days that renewed. "
                    "About 85-90 % is good. Formula: cs:renewal_30d:ratio = renewed / "
                    "(renewed + cancelled), from cs_renewals.",
                    [("cs:renewal_30d:ratio", "renewal")],
                    "percentunit",
                    RENEWAL,
                ),
                stat_panel(
                    "Upsell conversion (30 d)",
                    "Share of the paying accounts that moved to a bigger plan in 30 days. "
                    "Formula: cs:upsell_conversion_30d:ratio = accounts that expanded / "
                    "paying accounts at the window start.",
                    [("cs:upsell_conversion_30d:ratio", "upsell")],
                    "percentunit",
                ),
                stat_panel(
                    "Accounts by status",
                    "Accounts on trial, paying and churned now. Formula: "
                    "sum by (status) (cs_accounts).",
                    [("sum by (status) (cs_accounts)", "{{status}}")],
                    "short",
                ),
                stat_panel(
                    "Payment failures (30 d)",
                    "Failed payments in the last 30 days. Formula: "
                    'sum(cs_payment_failures{window="30d"}).',
                    [('sum(cs_payment_failures{window="30d"})', "failures")],
                    "short",
                ),
                stat_panel(
                    "Cancellations (last hour)",
                    "Subscriptions cancelled in the last hour (what the ChurnSpike alert "
                    "watches). Formula: cs:subscription_cancellations:increase1h = "
                    "sum(increase(cs_subscription_cancellations_total[1h])).",
                    [("cs:subscription_cancellations:increase1h", "last hour")],
                    "short",
                ),
                time_panel(
                    "Cancellations per hour and their baseline",
                    "What ChurnSpike watches: cancellations in the last hour, the mean "
                    "of the hourly counts over the week before, and mean + 3 standard "
                    "deviations (ChurnSpike also needs 5 or more and twice the same "
                    "hour a week ago). Formula: cs:subscription_cancellations:increase1h "
                    "and its _avg1w and _stddev1w rules.",
                    [
                        ("cs:subscription_cancellations:increase1h", "last hour"),
                        ("cs:subscription_cancellations:increase1h_avg1w", "weekly mean"),
                        (
                            "cs:subscription_cancellations:increase1h_avg1w"
                            " + 3 * cs:subscription_cancellations:increase1h_stddev1w",
                            "mean + 3 sd",
                        ),
                    ],
                    "short",
                    w=24,
                ),
            ],
        ),
    ]
