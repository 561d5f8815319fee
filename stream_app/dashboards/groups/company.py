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
    money_unit,
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
            "What a customer brings over its lifetime for each unit spent winning one. "
            "3 to 5 is the usual aim. Formula: cs:clv_to_cac:ratio = customer lifetime "
            "value (cs:clv) / acquisition cost of the last 30 days (cs:cac_30d).",
            [("cs:clv_to_cac:ratio", "CLV:CAC")],
            "short",
            CLV_TO_CAC,
            w=4,
            decimals=1,
        ),
        stat_panel(
            "eNPS (90 d)",
            "Employee Net Promoter Score of the last 90 days: promoters minus "
            "detractors among the employees, in points. Formula: cs:enps:score = % of "
            "employees answering 9-10 - % answering 0-6.",
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
                    "What winning one paying customer cost over the last 30 days: the "
                    "acquisition spend (campaigns, salaries and overhead) per new paying "
                    "account, in the reporting currency. Formula: cs:cac_30d = spend of the "
                    "30 days (cs_acquisition_spend) / accounts that became paying in them "
                    "(cs_new_paying_accounts).",
                    [("cs:cac_30d", "{{currency}}")],
                    money_unit(),
                ),
                stat_panel(
                    "CLV:CAC",
                    "What a customer brings over its lifetime, over what winning one costs. "
                    "3 to 5 is the usual aim; below 1 loses money. Formula: "
                    "cs:clv_to_cac:ratio = cs:clv / cs:cac_30d.",
                    [("cs:clv_to_cac:ratio", "CLV:CAC")],
                    "short",
                    CLV_TO_CAC,
                    decimals=1,
                ),
                stat_panel(
                    "Acquisition spend (30 d)",
                    "Money spent on winning customers in the last 30 days (the recorded "
                    "spend amounts), in the reporting currency. Formula: "
                    'sum(cs_acquisition_spend{window="30d"}).',
                    [('sum by (currency) (cs_acquisition_spend{window="30d"})', "{{currency}}")],
                    money_unit(),
                ),
                bar_panel(
                    "Spend by category (30 d and 90 d)",
                    "Acquisition spend of the last 30 and 90 days per category: marketing "
                    "(campaigns), salaries and overhead, in the reporting currency. "
                    "Formula: sum by (category, window) (cs_acquisition_spend).",
                    [
                        (
                            "sum by (category, window) (cs_acquisition_spend)",
                            "{{category}} {{window}}",
                        )
                    ],
                    money_unit(),
                ),
                time_panel(
                    "CAC and CLV over time",
                    "The cost of winning a customer and the lifetime value of one over "
                    "time, in the reporting currency. Formula: cs:cac_30d and cs:clv.",
                    [("cs:cac_30d", "CAC {{currency}}"), ("cs:clv", "CLV {{currency}}")],
                    money_unit(),
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
                    "Positive minus negative mentions of the brand in the last 30 days, as a "
                    "share of all mentions (a mention with no sentiment counts as neutral). "
                    "Below 0 is bad, above 20 % good. Formula: "
                    "cs:social_net_sentiment_30d:ratio = (positive - negative mentions) / "
                    'all mentions of the 30 days (interaction="mention" only).',
                    [("cs:social_net_sentiment_30d:ratio", "net sentiment")],
                    "percentunit",
                    SENTIMENT,
                ),
                stat_panel(
                    "Negative mentions today",
                    "Negative mentions so far today, and their usual level (the mean at this "
                    "time of day over the 7 days before); the NegativeMentionsSpike alert "
                    "fires at 3 x the level and at least 10. Formula: "
                    "cs:negative_mentions:today and cs:negative_mentions:level7d.",
                    [
                        ("cs:negative_mentions:today", "today"),
                        ("cs:negative_mentions:level7d", "7-day level"),
                    ],
                    "short",
                ),
                bar_panel(
                    "Interactions by kind and sentiment (30 d)",
                    "Social interactions of the last 30 days by kind and sentiment "
                    "(engagement: comments, shares, likes; listening: mentions). Formula: "
                    'sum by (interaction, sentiment) (cs_social_interactions{window="30d"}).',
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
                    "Today's mentions so far, by sentiment. Formula: "
                    'cs_social_interactions{interaction="mention",window="1d"} by sentiment.',
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
                    "Employee Net Promoter Score of the last 90 days: promoters minus "
                    "detractors among the employees, in points. Above 0 is good, above 10 "
                    "very good. Formula: cs:enps:score = % promoters (9-10) - % detractors "
                    "(0-6) of the employee eNPS answers of 90 days.",
                    [("cs:enps:score", "eNPS")],
                    "none",
                    ENPS,
                    decimals=0,
                ),
                stat_panel(
                    "Employee satisfaction (90 d)",
                    "Share of satisfied employees (answers of 4 or 5 on a 1-5 scale) in the "
                    "last 90 days. 75 % or more is good. Formula: "
                    "cs:employee_satisfaction:ratio = satisfaction answers of 4 or 5 / all "
                    "answers, 90 days.",
                    [("cs:employee_satisfaction:ratio", "satisfied")],
                    "percentunit",
                    SATISFACTION,
                ),
                bar_panel(
                    "Employee answers by survey and score (90 d)",
                    "Employee survey answers of the last 90 days, per survey and score. "
                    'Formula: sum by (survey, score) (cs_employee_survey_responses{window="90d"}).',
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
