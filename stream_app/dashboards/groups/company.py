"""Panels of the company group (stream_app/kpi/groups/company/): acquisition spend, CAC
and CLV:CAC (on the commerce and acquisition board), social listening and employee voice
(on the voice board). Rules: prometheus/rules/company.yml; docs:
docs/kpis.md#group-company.
"""

from __future__ import annotations

from stream_app.dashboards.panels import (
    Panels,
    Rows,
    Steps,
    bar_panel,
    stat_panel,
    time_panel,
)

# rules of thumb (docs/observability.md#thresholds)
CLV_TO_CAC: Steps = [(None, "red"), (1, "orange"), (3, "green")]
ENPS: Steps = [(None, "red"), (0, "yellow"), (10, "green"), (40, "dark-green")]
SATISFACTION: Steps = [(None, "red"), (0.6, "orange"), (0.75, "green")]
SENTIMENT: Steps = [(None, "red"), (0, "orange"), (0.2, "green")]
NEGATIVE = 'interaction="mention",sentiment="negative"'


def headline() -> Panels:
    return [
        stat_panel(
            "CLV:CAC",
            "cs:clv_to_cac:ratio = customer lifetime value (cs:clv) / acquisition cost of "
            "the last 30 days (cs:cac_30d). 3 to 5 is the usual aim.",
            [("cs:clv_to_cac:ratio", "CLV:CAC")],
            "short",
            CLV_TO_CAC,
            w=4,
            decimals=1,
        ),
        stat_panel(
            "eNPS (90 d)",
            "cs:enps:score = % of employees answering 9-10 - % answering 0-6 (employee "
            "Net Promoter Score of 90 days).",
            [("cs:enps:score", "eNPS")],
            "none",
            ENPS,
            w=4,
            decimals=0,
        ),
    ]


def trends() -> Panels:
    return []


def acquisition_rows() -> Rows:
    """Spend, CAC and CLV:CAC: the acquisition part of the commerce board."""
    return [
        (
            "Acquisition cost",
            [
                stat_panel(
                    "CAC (30 d)",
                    "cs:cac_30d = spend of the 30 days (campaigns + salaries + overhead, "
                    "cs_acquisition_spend) / accounts that became paying in them "
                    "(cs_new_paying_accounts).",
                    [("cs:cac_30d", "{{currency}}")],
                    "short",
                ),
                stat_panel(
                    "CLV:CAC",
                    "cs:clv_to_cac:ratio = cs:clv / cs:cac_30d: what a customer brings over "
                    "what winning one costs. 3 to 5 is the usual aim; below 1 loses money.",
                    [("cs:clv_to_cac:ratio", "CLV:CAC")],
                    "short",
                    CLV_TO_CAC,
                    decimals=1,
                ),
                stat_panel(
                    "Acquisition spend (30 d)",
                    'sum(cs_acquisition_spend{window="30d"}): spend_recorded amounts of the '
                    "30 days in major units of the reporting currency.",
                    [('sum by (currency) (cs_acquisition_spend{window="30d"})', "{{currency}}")],
                    "short",
                ),
                bar_panel(
                    "Spend by category (30 d and 90 d)",
                    "cs_acquisition_spend by category and window: marketing (campaigns), "
                    "salaries and overhead.",
                    [
                        (
                            "sum by (category, window) (cs_acquisition_spend)",
                            "{{category}} {{window}}",
                        )
                    ],
                    "short",
                ),
                time_panel(
                    "CAC and CLV over time",
                    "cs:cac_30d and cs:clv (reporting currency).",
                    [("cs:cac_30d", "CAC {{currency}}"), ("cs:clv", "CLV {{currency}}")],
                    "short",
                ),
            ],
        ),
    ]


def voice_rows() -> Rows:
    """Social listening and employee voice: the company part of the voice board."""
    return [
        (
            "Social listening",
            [
                stat_panel(
                    "Net sentiment of mentions (30 d)",
                    "cs:social_net_sentiment_30d:ratio = (positive - negative mentions) / "
                    'all mentions of the 30 days (interaction="mention" only; no sentiment '
                    "= neutral).",
                    [("cs:social_net_sentiment_30d:ratio", "net sentiment")],
                    "percentunit",
                    SENTIMENT,
                ),
                stat_panel(
                    "Negative mentions today",
                    "cs:negative_mentions:today, and its 7-day level (the mean at this time of "
                    "day over the 7 days before): NegativeMentionsSpike fires at 3 x the "
                    "level and at least 10.",
                    [
                        ("cs:negative_mentions:today", "today"),
                        ("cs:negative_mentions:level7d", "7-day level"),
                    ],
                    "short",
                ),
                bar_panel(
                    "Interactions by kind and sentiment (30 d)",
                    'cs_social_interactions{window="30d"} by interaction and sentiment '
                    "(engagement: comments, shares, likes; listening: mentions).",
                    [
                        (
                            "sum by (interaction, sentiment) "
                            '(cs_social_interactions{window="30d"})',
                            "{{interaction}} {{sentiment}}",
                        )
                    ],
                    "short",
                ),
                time_panel(
                    "Mentions today by sentiment",
                    'cs_social_interactions{interaction="mention",window="1d"} by sentiment: '
                    "today's mentions so far.",
                    [
                        (
                            'sum by (sentiment) (cs_social_interactions{interaction="mention",'
                            'window="1d"})',
                            "{{sentiment}}",
                        )
                    ],
                    "short",
                ),
            ],
        ),
        (
            "Employee voice",
            [
                stat_panel(
                    "eNPS (90 d)",
                    "cs:enps:score = % promoters (9-10) - % detractors (0-6) of the employee "
                    "eNPS answers of 90 days. Above 0 is good, above 10 very good.",
                    [("cs:enps:score", "eNPS")],
                    "none",
                    ENPS,
                    decimals=0,
                ),
                stat_panel(
                    "Employee satisfaction (90 d)",
                    "cs:employee_satisfaction:ratio = satisfaction answers of 4 or 5 / all "
                    "(scale 1-5), 90 days.",
                    [("cs:employee_satisfaction:ratio", "satisfied")],
                    "percentunit",
                    SATISFACTION,
                ),
                bar_panel(
                    "Employee answers by survey and score (90 d)",
                    'cs_employee_survey_responses{window="90d"} by survey and score.',
                    [
                        (
                            'sum by (survey, score) (cs_employee_survey_responses{window="90d"})',
                            "{{survey}} {{score}}",
                        )
                    ],
                    "short",
                ),
            ],
        ),
    ]


def rows() -> Rows:
    return acquisition_rows() + voice_rows()
