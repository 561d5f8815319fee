"""The KPI ratios of prometheus/rules/<group>.yml, computed in Python from an exposition.

Each function mirrors one recording rule (docs/kpis.md has the formulas) and returns
{labels: value}; an empty dict is "no sample" (a denominator of 0 or no series). The
end-to-end test compares them with what Prometheus records from the live worker.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

Labels = frozenset[tuple[str, str]]
Result = dict[Labels, float]
NONE: Labels = frozenset()

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_exposition(text: bytes | str) -> list[Sample]:
    """Prometheus text format -> samples (comments dropped)."""
    if isinstance(text, bytes):
        text = text.decode()
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise ValueError(f"not a sample line: {line!r}")
        labels = {k: _unescape(v) for k, v in _LABEL.findall(m.group(2) or "")}
        out.append(Sample(m.group(1), labels, float(m.group(3))))
    return out


class Exposition:
    """Sums over samples, like PromQL's ``sum`` over the series a selector matches."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    def select(self, name: str, **match: str | Collection[str]) -> list[Sample]:
        def ok(s: Sample) -> bool:
            for key, want in match.items():
                have = s.labels.get(key)
                if isinstance(want, str) and have != want:
                    return False
                if not isinstance(want, str) and have not in want:
                    return False
            return True

        return [s for s in self.samples if s.name == name and ok(s)]

    def total(self, name: str, **match: str | Collection[str]) -> float | None:
        """``sum(name{match})``: None when no series matches (an empty vector)."""
        chosen = self.select(name, **match)
        return sum(s.value for s in chosen) if chosen else None

    def by(self, label: str, name: str, **match: str | Collection[str]) -> dict[str, float]:
        """``sum by (label) (name{match})``."""
        out: dict[str, float] = {}
        for s in self.select(name, **match):
            key = s.labels.get(label, "")
            out[key] = out.get(key, 0.0) + s.value
        return out


def ratio(num: float | None, den: float | None) -> Result:
    """``num / (den > 0)``."""
    if num is None or den is None or not den > 0:
        return {}
    return {NONE: num / den}


def histogram_quantile(q: float, buckets: dict[str, float]) -> float:
    """Prometheus 2.42's bucketQuantile over {le: cumulative count}."""
    pairs = sorted((float(le), count) for le, count in buckets.items())
    if not pairs or not math.isinf(pairs[-1][0]):
        return math.nan
    merged: list[list[float]] = []  # coalesce equal bounds
    for bound, count in pairs:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    for i in range(1, len(merged)):  # ensure monotonic
        merged[i][1] = max(merged[i][1], merged[i - 1][1])
    if len(merged) < 2 or merged[-1][1] == 0:
        return math.nan
    rank = q * merged[-1][1]
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


def quantile_rule(q: float, family: str) -> Callable[[Exposition], Result]:
    def rule(e: Exposition) -> Result:
        count = e.total(family + "_gcount")
        if count is None or not count > 0:
            return {}
        return {NONE: histogram_quantile(q, e.by("le", family + "_bucket"))}

    return rule


W30 = {"window": "30d"}


def feature_adoption(e: Exposition) -> Result:
    mau = e.total("cs_active_users", window="30d")
    if mau is None or not mau > 0:
        return {}
    users = e.by("feature", "cs_feature_users", window="30d")
    return {frozenset({("feature", f)}): n / mau for f, n in users.items()}


def retention(e: Exposition) -> Result:
    paying = e.total("cs_accounts", status="paying")
    new = e.total("cs_new_paying_accounts", **W30)
    if paying is None or new is None:
        return {}
    return ratio(paying - new, e.total("cs_paying_accounts_period_start", **W30))


def net_mrr_churn(e: Exposition) -> Result:
    lost = e.by("currency", "cs_mrr_movements", kind={"churn", "contraction"}, **W30)
    won = e.by("currency", "cs_mrr_movements", kind={"expansion", "reactivation"}, **W30)
    start = e.by("currency", "cs_mrr_period_start", **W30)
    out: Result = {}
    for cur in set(lost) | set(won):
        if start.get(cur, 0) > 0:
            out[frozenset({("currency", cur)})] = (lost.get(cur, 0) - won.get(cur, 0)) / start[cur]
    return out


def arpa(e: Exposition) -> Result:
    paying = e.total("cs_accounts", status="paying")
    if paying is None or not paying > 0:
        return {}
    return {frozenset({("currency", c)}): v / paying for c, v in e.by("currency", "cs_mrr").items()}


def clv(e: Exposition) -> Result:
    churn = RULES["cs:customer_churn_30d:ratio"](e).get(NONE)
    if churn is None or not churn > 0:
        return {}
    return {labels: value / churn for labels, value in arpa(e).items()}


def survey(e: Exposition, name: str, scores: Collection[str] | None = None) -> float | None:
    if scores is None:
        return e.total("cs_survey_responses", survey=name, window="90d")
    return e.total("cs_survey_responses", survey=name, score=scores, window="90d")


def nps(e: Exposition) -> Result:
    answers = survey(e, "nps")
    if answers is None or not answers > 0:
        return {}
    promoters = survey(e, "nps", {"9", "10"}) or 0.0
    detractors = survey(e, "nps", {str(s) for s in range(7)}) or 0.0
    return {NONE: 100 * (promoters - detractors) / answers}


def ces(e: Exposition) -> Result:
    by_score = e.by("score", "cs_survey_responses", survey="ces", window="90d")
    weighted = sum(int(s) * n for s, n in by_score.items() if s in {str(i) for i in range(1, 8)})
    return ratio(weighted if by_score else None, survey(e, "ces"))


def per_currency(numerators: dict[str, float], den: float | None) -> Result:
    """``sum by (currency) (x) / on() group_left() (den > 0)``."""
    if den is None or not den > 0:
        return {}
    return {frozenset({("currency", c)}): v / den for c, v in numerators.items()}


def cac(e: Exposition) -> Result:
    return per_currency(
        e.by("currency", "cs_acquisition_spend", **W30), e.total("cs_new_paying_accounts", **W30)
    )


def clv_to_cac(e: Exposition) -> Result:
    costs = cac(e)
    return {
        labels: value / costs[labels]
        for labels, value in clv(e).items()
        if labels in costs and costs[labels] > 0
    }


def mentions(e: Exposition, sentiment: str | None = None) -> float | None:
    if sentiment is None:
        return e.total("cs_social_interactions", interaction="mention", **W30)
    return e.total("cs_social_interactions", interaction="mention", sentiment=sentiment, **W30)


def net_sentiment(e: Exposition) -> Result:
    positive, negative = mentions(e, "positive") or 0.0, mentions(e, "negative") or 0.0
    return ratio(positive - negative, mentions(e))


def employee(e: Exposition, name: str, scores: Collection[str] | None = None) -> float | None:
    if scores is None:
        return e.total("cs_employee_survey_responses", survey=name, window="90d")
    return e.total("cs_employee_survey_responses", survey=name, score=scores, window="90d")


def enps(e: Exposition) -> Result:
    answers = employee(e, "enps")
    if answers is None or not answers > 0:
        return {}
    promoters = employee(e, "enps", {"9", "10"}) or 0.0
    detractors = employee(e, "enps", {str(s) for s in range(7)}) or 0.0
    return {NONE: 100 * (promoters - detractors) / answers}


def stickiness_30d(e: Exposition) -> Result:
    days = e.total("cs_user_active_days_gsum")
    return ratio(None if days is None else days / 30, e.total("cs_user_active_days_gcount"))


def cohort_retention(what: str) -> Callable[[Exposition], Result]:
    def rule(e: Exposition) -> Result:
        members = e.by("cohort", f"cs_cohort_{what}")
        out: Result = {}
        retained: dict[tuple[str, str], float] = {}
        for s in e.select(f"cs_cohort_retained_{what}"):
            key = (s.labels["cohort"], s.labels["week"])
            retained[key] = retained.get(key, 0.0) + s.value
        for (cohort, week), n in retained.items():
            if members.get(cohort, 0) > 0:
                out[frozenset({("cohort", cohort), ("week", week)})] = n / members[cohort]
        return out

    return rule


def per_label(label: str, num: dict[str, float], den: dict[str, float]) -> Result:
    """``(sum by (label) (num) or den * 0) / (sum by (label) (den) > 0)``."""
    return {frozenset({(label, k)}): num.get(k, 0.0) / d for k, d in den.items() if d > 0}


def web_exit(e: Exposition) -> Result:
    return per_label(
        "path",
        e.by("path", "cs_web_exits", **W30),
        e.by("path", "cs_web_pageviews", **W30),
    )


def web_ctr(e: Exposition) -> Result:
    clicks = e.by("link", "cs_web_link_clicks", **W30)
    out = per_label("link", clicks, e.by("link", "cs_web_link_impressions", **W30))
    out.update(
        ratio(
            e.total("cs_web_link_clicks", **W30) or 0.0,
            e.total("cs_web_link_impressions", **W30),
        )
    )
    return out


def visit_intent(e: Exposition) -> Result:
    answers = e.by("answer", "cs_visit_survey_answers", survey="intent", **W30)
    total = sum(answers.values())
    if not total > 0:
        return {}
    return {frozenset({("answer", a)}): n / total for a, n in answers.items()}


def web_bounce(window: str) -> Callable[[Exposition], Result]:
    return lambda e: ratio(
        e.total("cs_web_bounced_sessions", window=window),
        e.total("cs_web_sessions", window=window),
    )


RULES: dict[str, Callable[[Exposition], Result]] = {
    "cs:stickiness_30d:ratio": stickiness_30d,
    "cs:cohort_retention_users:ratio": cohort_retention("users"),
    "cs:cohort_retention_accounts:ratio": cohort_retention("accounts"),
    "cs:stickiness_dau_mau:ratio": lambda e: ratio(
        e.total("cs_active_users", window="1d"), e.total("cs_active_users", window="30d")
    ),
    "cs:stickiness_wau_mau:ratio": lambda e: ratio(
        e.total("cs_active_users", window="7d"), e.total("cs_active_users", window="30d")
    ),
    "cs:feature_adoption:ratio": feature_adoption,
    "cs:activation:ratio": lambda e: ratio(
        e.total("cs_activated_accounts", **W30), e.total("cs_new_accounts", **W30)
    ),
    "cs:adoption:ratio": lambda e: ratio(
        e.total("cs_adopted_accounts", **W30), e.total("cs_onboarded_accounts")
    ),
    "cs:time_to_first_value_seconds:p50": quantile_rule(0.5, "cs_time_to_first_value_seconds"),
    "cs:time_to_first_value_seconds:p90": quantile_rule(0.9, "cs_time_to_first_value_seconds"),
    "cs:time_to_proficiency_seconds:p50": quantile_rule(0.5, "cs_time_to_proficiency_seconds"),
    "cs:time_to_proficiency_seconds:p90": quantile_rule(0.9, "cs_time_to_proficiency_seconds"),
    "cs:first_week_active_days:mean": lambda e: ratio(
        e.total("cs_first_week_active_days_gsum"), e.total("cs_first_week_active_days_gcount")
    ),
    "cs:customer_churn_30d:ratio": lambda e: ratio(
        e.total("cs_churned_accounts", **W30), e.total("cs_paying_accounts_period_start", **W30)
    ),
    "cs:retention_30d:ratio": retention,
    "cs:net_mrr_churn_30d:ratio": net_mrr_churn,
    "cs:renewal_30d:ratio": lambda e: ratio(
        e.total("cs_renewals", outcome="renewed", **W30) or 0.0,
        e.total("cs_renewals", outcome={"renewed", "cancelled"}, **W30),
    ),
    "cs:upsell_conversion_30d:ratio": lambda e: ratio(
        e.total("cs_expanded_accounts", **W30), e.total("cs_paying_accounts_period_start", **W30)
    ),
    "cs:arpa": arpa,
    "cs:clv": clv,
    "cs:nps:score": nps,
    "cs:csat:ratio": lambda e: ratio(survey(e, "csat", {"4", "5"}) or 0.0, survey(e, "csat")),
    "cs:ces:mean": ces,
    "cs:first_contact_resolution_30d:ratio": lambda e: ratio(
        e.total("cs_tickets_resolved_first_contact", **W30), e.total("cs_tickets_resolved", **W30)
    ),
    "cs:mttr_seconds": lambda e: ratio(
        e.total("cs_ticket_resolution_seconds_gsum"), e.total("cs_ticket_resolution_seconds_gcount")
    ),
    "cs:checkout_abandonment_30d:ratio": lambda e: ratio(
        e.total("cs_checkouts_abandoned", **W30), e.total("cs_checkouts_judged", **W30)
    ),
    "cs:average_order_value_30d": lambda e: per_currency(
        e.by("currency", "cs_sales", **W30), e.total("cs_orders", **W30)
    ),
    "cs:repeat_purchase:ratio": lambda e: ratio(
        e.total("cs_ordering_accounts", orders="2+"), e.total("cs_ordering_accounts", orders="1+")
    ),
    "cs:cac_30d": cac,
    "cs:clv_to_cac:ratio": clv_to_cac,
    "cs:social_net_sentiment_30d:ratio": net_sentiment,
    "cs:enps:score": enps,
    "cs:employee_satisfaction:ratio": lambda e: ratio(
        employee(e, "satisfaction", {"4", "5"}) or 0.0, employee(e, "satisfaction")
    ),
    "cs:web_pages_per_session_30d": lambda e: ratio(
        e.total("cs_web_session_pageviews", **W30), e.total("cs_web_sessions", **W30)
    ),
    "cs:web_bounce_30d:ratio": web_bounce("30d"),
    "cs:web_bounce_7d:ratio": web_bounce("7d"),
    "cs:web_bounce_1d:ratio": web_bounce("1d"),
    "cs:web_exit_30d:ratio": web_exit,
    "cs:web_time_on_page_seconds:avg": lambda e: ratio(
        e.total("cs_web_time_on_page_seconds_gsum"), e.total("cs_web_time_on_page_seconds_gcount")
    ),
    "cs:web_time_on_page_seconds:p50": quantile_rule(0.5, "cs_web_time_on_page_seconds"),
    "cs:web_time_on_page_seconds:p90": quantile_rule(0.9, "cs_web_time_on_page_seconds"),
    "cs:web_deep_scroll_30d:ratio": lambda e: ratio(
        e.total("cs_web_deep_scrolls", **W30), e.total("cs_web_scroll_depth_percent_gcount")
    ),
    "cs:web_ctr_30d:ratio": web_ctr,
    "cs:task_completion_30d:ratio": lambda e: ratio(
        e.total("cs_visit_survey_answers", survey="task_completion", answer="yes", **W30),
        e.total("cs_visit_survey_answers", survey="task_completion", answer={"yes", "no"}, **W30),
    ),
    "cs:visit_intent_30d:ratio": visit_intent,
}
#: rule groups whose every rule has a Python twin above: group cs-<name> of
#: prometheus/rules/<name>.yml, unit-tested in prometheus/tests/<name>_test.yml
KPI_GROUPS = (
    "cs-usage",
    "cs-onboarding",
    "cs-revenue",
    "cs-health",
    "cs-commerce",
    "cs-company",
    "cs-web",
)
