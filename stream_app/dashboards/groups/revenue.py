"""Panels of the revenue group (stream_app/kpi/groups/revenue/): MRR and its movements,
churn, retention, renewals, upsell, ARPA and CLV, and the ChurnSpike baseline. Rules:
prometheus/rules/revenue.yml; docs: docs/kpis.md#group-revenue.
"""

from __future__ import annotations

from stream_app.dashboards.panels import Panels, Rows, Steps, bar_panel, stat_panel, time_panel

# rules of thumb (docs/observability.md#thresholds)
CHURN: Steps = [(None, "green"), (0.08, "orange"), (0.10, "red")]
RETENTION: Steps = [(None, "red"), (0.80, "orange"), (0.90, "green")]
RENEWAL: Steps = [(None, "red"), (0.75, "orange"), (0.85, "green")]


def headline() -> Panels:
    return [
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
    ]


def trends() -> Panels:
    return [
        time_panel(
            "MRR",
            "sum by (currency) (cs_mrr): monthly recurring revenue of the paying "
            "accounts, in major units of the reporting currency.",
            [("sum by (currency) (cs_mrr)", "MRR {{currency}}")],
            "short",
        ),
    ]


def rows() -> Rows:
    return [
        (
            "Revenue",
            [
                stat_panel(
                    "MRR",
                    "sum(cs_mrr): MRR of the paying accounts (reporting currency).",
                    [("sum by (currency) (cs_mrr)", "{{currency}}")],
                    "short",
                ),
                stat_panel(
                    "ARPA",
                    'cs:arpa = sum(cs_mrr) / sum(cs_accounts{status="paying"}): monthly '
                    "revenue per paying account.",
                    [("cs:arpa", "{{currency}}")],
                    "short",
                ),
                stat_panel(
                    "CLV",
                    "cs:clv = ARPA / monthly customer churn rate (no value while churn "
                    "is 0). Compare with CAC: 3-5 x CAC is the usual aim.",
                    [("cs:clv", "{{currency}}")],
                    "short",
                ),
                stat_panel(
                    "Revenue collected (30 d)",
                    'cs_revenue{window="30d"}: invoice_paid amounts of the last 30 days.',
                    [('sum by (currency) (cs_revenue{window="30d"})', "{{currency}}")],
                    "short",
                ),
                bar_panel(
                    "MRR movements (30 d)",
                    'cs_mrr_movements{window="30d"} by kind: MRR added by new, '
                    "reactivated and expanded accounts, lost to contraction and churn.",
                    [('sum by (kind) (cs_mrr_movements{window="30d"})', "{{kind}}")],
                    "short",
                ),
                time_panel(
                    "MRR",
                    "sum by (currency) (cs_mrr) over time.",
                    [("sum by (currency) (cs_mrr)", "MRR {{currency}}")],
                    "short",
                ),
            ],
        ),
        (
            "Churn and retention",
            [
                stat_panel(
                    "Customer churn (30 d)",
                    "cs:customer_churn_30d:ratio = churned / paying at the start of the "
                    "30 days. 2-8 % is healthy; aim under 10 %.",
                    [("cs:customer_churn_30d:ratio", "churn")],
                    "percentunit",
                    CHURN,
                ),
                stat_panel(
                    "Retention CRR (30 d)",
                    "cs:retention_30d:ratio = (paying now - new paying) / paying at the "
                    "start of the 30 days. Aim for at least 90 %.",
                    [("cs:retention_30d:ratio", "CRR")],
                    "percentunit",
                    RETENTION,
                ),
                stat_panel(
                    "Net MRR churn (30 d)",
                    "cs:net_mrr_churn_30d:ratio = (churn + contraction - expansion - "
                    "reactivation) / MRR at the start. Below 0: net expansion.",
                    [("cs:net_mrr_churn_30d:ratio", "{{currency}}")],
                    "percentunit",
                    CHURN,
                ),
                stat_panel(
                    "Renewal rate (30 d)",
                    "cs:renewal_30d:ratio = renewed / (renewed + cancelled) of the "
                    "subscriptions up for renewal (cs_renewals). About 85-90 % is good.",
                    [("cs:renewal_30d:ratio", "renewal")],
                    "percentunit",
                    RENEWAL,
                ),
                stat_panel(
                    "Upsell conversion (30 d)",
                    "cs:upsell_conversion_30d:ratio = accounts that expanded / paying "
                    "accounts at the start of the 30 days.",
                    [("cs:upsell_conversion_30d:ratio", "upsell")],
                    "percentunit",
                ),
                stat_panel(
                    "Accounts by status",
                    "cs_accounts by status: trial, paying and churned accounts now.",
                    [("sum by (status) (cs_accounts)", "{{status}}")],
                    "short",
                ),
                stat_panel(
                    "Payment failures (30 d)",
                    'cs_payment_failures{window="30d"}: payment_failed events.',
                    [('sum(cs_payment_failures{window="30d"})', "failures")],
                    "short",
                ),
                stat_panel(
                    "Cancellations (last hour)",
                    "cs:subscription_cancellations:increase1h = "
                    "sum(increase(cs_subscription_cancellations_total[1h])).",
                    [("cs:subscription_cancellations:increase1h", "last hour")],
                    "short",
                ),
                time_panel(
                    "Cancellations per hour and their baseline",
                    "What ChurnSpike watches: cancellations in the last hour, the mean "
                    "of the hourly counts over the week before, and mean + 3 standard "
                    "deviations (ChurnSpike also needs 5 or more and twice the same "
                    "hour a week ago).",
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
