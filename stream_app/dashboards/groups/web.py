"""Panels of the web group (stream_app/kpi/groups/web/): visitors, sessions, bounce, pages
per session, time on page, scroll depth, entry and exit pages, click-through rate, intent
mix and task completion. Rules: prometheus/rules/web.yml; docs: docs/kpis.md#group-web.
"""

from __future__ import annotations

from stream_app.dashboards.panels import Panels, Rows, Steps, bar_panel, stat_panel, time_panel

# reference figures (docs/observability.md#thresholds, /work/shared notes): bounce 20-55 %
# (lower is better), 1.7-4 pages per session, ~52 s on a page, 6-7 % CTR, 50 % scroll
BOUNCE: Steps = [(None, "green"), (0.40, "orange"), (0.55, "red")]
PAGES_PER_SESSION: Steps = [(None, "orange"), (1.7, "green")]
TIME_ON_PAGE: Steps = [(None, "orange"), (30, "green")]
CTR: Steps = [(None, "orange"), (0.06, "green")]
DEEP_SCROLL: Steps = [(None, "orange"), (0.25, "green")]
TASK_COMPLETION: Steps = [(None, "red"), (0.6, "orange"), (0.8, "green")]

VISITORS = [
    ('sum(cs_web_visitors{window="1d"})', "today"),
    ('sum(cs_web_visitors{window="7d"})', "7 d"),
    ('sum(cs_web_visitors{window="30d"})', "30 d"),
]
SESSIONS = [
    ('sum(cs_web_sessions{window="1d"})', "today"),
    ('sum(cs_web_sessions{window="7d"})', "7 d"),
    ('sum(cs_web_sessions{window="30d"})', "30 d"),
]
BOUNCE_RATES = [
    ("cs:web_bounce_1d:ratio", "today"),
    ("cs:web_bounce_7d:ratio", "7 d"),
    ("cs:web_bounce_30d:ratio", "30 d"),
]


def headline() -> Panels:
    return [
        stat_panel(
            "Web visitors (30 d)",
            "Distinct visitors who viewed a page in the last 30 days, summed over the "
            'workers. Formula: sum(cs_web_visitors{window="30d"}).',
            [('sum(cs_web_visitors{window="30d"})', "visitors")],
            "short",
            w=4,
        ),
        stat_panel(
            "Bounce rate (30 d)",
            "Share of the sessions of the last 30 days that bounced: one page view, no "
            "click, less than CS_WEB_ENGAGED_MS engaged. 20-55 % is common; lower is "
            "better. Formula: cs:web_bounce_30d:ratio = bounced sessions / sessions of "
            "the last 30 days.",
            [("cs:web_bounce_30d:ratio", "bounce")],
            "percentunit",
            BOUNCE,
            w=4,
        ),
    ]


def trends() -> Panels:
    return []


def rows() -> Rows:
    return [
        (
            "Visitors and sessions",
            [
                stat_panel(
                    "Visitors",
                    "Distinct visitors who viewed a page today so far, in the last 7 and in "
                    "the last 30 days, summed over the workers. Formula: "
                    "sum by (window) (cs_web_visitors).",
                    VISITORS,
                    "short",
                    w=8,
                ),
                stat_panel(
                    "Bounce rate",
                    "Share of the sessions that bounced, today, over 7 and over 30 days (a "
                    "session belongs to the day of its first event). 20-55 % is common; "
                    "lower is better. Formula: cs:web_bounce_<window>:ratio = bounced "
                    "sessions / sessions whose day is in the window.",
                    BOUNCE_RATES,
                    "percentunit",
                    BOUNCE,
                    w=8,
                ),
                stat_panel(
                    "Pages per session (30 d)",
                    "Pages viewed per session on average over the last 30 days. 1.7 to 4 "
                    "is the usual range. Formula: cs:web_pages_per_session_30d = page views "
                    "of the sessions of 30 days / those sessions.",
                    [("cs:web_pages_per_session_30d", "pages")],
                    "short",
                    PAGES_PER_SESSION,
                    w=8,
                    decimals=2,
                ),
                time_panel(
                    "Sessions",
                    "Sessions (runs of a visitor's events at most CS_WEB_SESSION_GAP_S "
                    "apart, with a page view) of today, 7 and 30 days. Formula: "
                    "sum by (window) (cs_web_sessions).",
                    SESSIONS,
                    "short",
                ),
                time_panel(
                    "Bounce rate",
                    "Today's bounce rate against the 7-day and 30-day rates; the "
                    "BounceRateHigh alert fires when today is well above the 7-day level. "
                    "Formula: cs:web_bounce_1d:ratio, cs:web_bounce_7d:ratio and "
                    "cs:web_bounce_30d:ratio.",
                    BOUNCE_RATES,
                    "percentunit",
                    BOUNCE,
                ),
            ],
        ),
        (
            "Pages",
            [
                time_panel(
                    "Time on page",
                    "Engaged time on a page (visible and focused) over the last 30 days: "
                    "mean, median and 90th percentile. About 52 s is typical. Formula: "
                    "cs:web_time_on_page_seconds:avg, :p50 and :p90 over the page_left "
                    "events of 30 days.",
                    [
                        ("cs:web_time_on_page_seconds:avg", "mean"),
                        ("cs:web_time_on_page_seconds:p50", "p50"),
                        ("cs:web_time_on_page_seconds:p90", "p90"),
                    ],
                    "s",
                    TIME_ON_PAGE,
                ),
                time_panel(
                    "Deep scrolls (30 d)",
                    "Share of the page visits of the last 30 days scrolled to "
                    "CS_WEB_DEEP_SCROLL_PCT (90 %) or deeper. Formula: "
                    "cs:web_deep_scroll_30d:ratio = page_left events scrolled that deep / "
                    "all page_left events of 30 days.",
                    [("cs:web_deep_scroll_30d:ratio", "deep scrolls")],
                    "percentunit",
                    DEEP_SCROLL,
                ),
                bar_panel(
                    "Top entry pages (30 d)",
                    "The 10 pages that started the most sessions in the last 30 days (the "
                    'path of the first page view); paths past CS_WEB_PATH_LIMIT are "other". '
                    'Formula: topk(10, sum by (path) (cs_web_entries{window="30d"})).',
                    [('topk(10, sum by (path) (cs_web_entries{window="30d"}))', "{{path}}")],
                    "short",
                ),
                bar_panel(
                    "Top exit pages (30 d)",
                    "The 10 pages that ended the most sessions in the last 30 days (the "
                    "path of the last page view). Formula: "
                    'topk(10, sum by (path) (cs_web_exits{window="30d"})).',
                    [('topk(10, sum by (path) (cs_web_exits{window="30d"}))', "{{path}}")],
                    "short",
                ),
                bar_panel(
                    "Exit rate by page (30 d)",
                    "For the 10 most viewed pages, the share of their views in the last 30 "
                    "days that ended the session. Formula: cs:web_exit_30d:ratio = sessions "
                    "that ended on the page / page views of the page, 30 days.",
                    [
                        (
                            "cs:web_exit_30d:ratio and on(path) topk(10, sum by (path) "
                            '(cs_web_pageviews{window="30d"}))',
                            "{{path}}",
                        )
                    ],
                    "percentunit",
                    max_value=1,
                ),
                bar_panel(
                    "Top pages (30 d)",
                    "The 10 most viewed pages of the last 30 days. Formula: "
                    'topk(10, sum by (path) (cs_web_pageviews{window="30d"})).',
                    [('topk(10, sum by (path) (cs_web_pageviews{window="30d"}))', "{{path}}")],
                    "short",
                ),
            ],
        ),
        (
            "Links and visit surveys",
            [
                bar_panel(
                    "Click-through rate by link (30 d)",
                    "Share of each link's impressions in the last 30 days that were "
                    "clicked; 6-7 % is typical. Formula: "
                    'cs:web_ctr_30d:ratio{link!=""} = link_clicked / link_shown events of '
                    "the link in 30 days.",
                    [('cs:web_ctr_30d:ratio{link!=""}', "{{link}}")],
                    "percentunit",
                    CTR,
                    max_value=1,
                ),
                stat_panel(
                    "Click-through rate (30 d)",
                    "Share of all link impressions in the last 30 days that were clicked; "
                    '6-7 % is typical. Formula: cs:web_ctr_30d:ratio{link=""} = every '
                    "link's clicks / every link's impressions of 30 days.",
                    [('cs:web_ctr_30d:ratio{link=""}', "CTR")],
                    "percentunit",
                    CTR,
                    w=6,
                ),
                stat_panel(
                    "Task completion (30 d)",
                    "Share of visitors who said they got done what they came for, last 30 "
                    'days. 80 % or more is good. Formula: cs:task_completion_30d:ratio = "yes" '
                    '/ ("yes" + "no") answers of the task_completion visit survey in 30 days.',
                    [("cs:task_completion_30d:ratio", "completed")],
                    "percentunit",
                    TASK_COMPLETION,
                    w=6,
                ),
                bar_panel(
                    "Visitor intent (30 d)",
                    "Share of each stated reason for the visit among the intent answers of "
                    'the last 30 days; answers past CS_WEB_ANSWER_LIMIT are "other". '
                    "Formula: cs:visit_intent_30d:ratio.",
                    [("cs:visit_intent_30d:ratio", "{{answer}}")],
                    "percentunit",
                    max_value=1,
                ),
            ],
        ),
    ]
