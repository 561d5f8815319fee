"""The company group: acquisition spend by category (for CAC and CLV:CAC), social
interactions by kind and sentiment (social listening) and employee survey answers (eNPS,
satisfaction), from the company topic keyed by ``source`` (docs/kpis.md#group-company).

Every family has a fixed label set and exports every sample, zeros included. A read sums
the day counts of the partition's sources over each window (sources are few: spend
sources, networks, teams). Spend is kept in minor units per currency and converted to
``CS_CURRENCY`` with ``CS_FX_RATES`` at read time by the revenue group's
:func:`~stream_app.kpi.groups.revenue.read.major`; an unknown currency is rejected by the
revenue group's ``check``, which runs for every event with a currency.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

from stream_app.contract import Event
from stream_app.contract.declared import EMPLOYEE_SURVEY_RANGES
from stream_app.kpi.families import Family
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.groups.company.state import CompanyState, dump_state, load_state
from stream_app.kpi.groups.revenue.read import major
from stream_app.kpi.settings import KpiSettings

SPEND_CATEGORIES: Final = ("marketing", "salaries", "overhead")
SPEND_WINDOWS: Final = (30, 90)
INTERACTIONS = ("mention", "comment", "share", "like")
SENTIMENTS = ("positive", "neutral", "negative")
SOCIAL_WINDOWS = (1, 30)
SURVEY_WINDOW = 90
NEUTRAL = "neutral"  # an interaction without a sentiment


class CompanyGroup(KpiGroup[CompanyState]):
    """Spend, social and employee-voice KPIs over one partition's sources."""

    name = "company"
    types = frozenset({"spend_recorded", "social_interaction", "employee_survey_answered"})
    key_field = "source"

    def __init__(self, settings: KpiSettings) -> None:
        super().__init__(settings)
        self.currency = settings.currency
        self.rate = settings.fx_rate

    def new(self) -> CompanyState:
        return CompanyState()

    def apply(self, source: str, state: CompanyState, event: Event, day: int) -> None:
        if not state.admit_day(day):
            return
        kind = event.type
        if kind == "spend_recorded":
            key = (event.category, event.currency, day)
            state.spend[key] = state.spend.get(key, 0) + event.amount
        elif kind == "social_interaction":
            social = (event.interaction, event.sentiment or NEUTRAL, day)
            state.social[social] = state.social.get(social, 0) + 1
        else:
            answer = (event.survey, event.score, day)
            state.surveys[answer] = state.surveys.get(answer, 0) + 1

    def attach(self, source: str, state: CompanyState) -> None:
        """No partition aggregates: every read sums the sources' day counts."""

    def families(self, ctx: ReadContext, states: Mapping[str, CompanyState]) -> list[Family]:
        last = ctx.as_of_day
        cur = self.currency
        spend: dict[tuple[str, int], Counter[str]] = {
            (c, w): Counter() for c in SPEND_CATEGORIES for w in SPEND_WINDOWS
        }
        social: Counter[tuple[str, str, int]] = Counter()
        surveys: Counter[tuple[str, int]] = Counter()
        first_survey_day = ctx.first_day(SURVEY_WINDOW)
        for st in states.values():
            for (category, currency, day), amount in st.spend.items():
                for w in SPEND_WINDOWS:
                    if last - w < day <= last:
                        spend[category, w][currency] += amount
            for (interaction, sentiment, day), n in st.social.items():
                for w in SOCIAL_WINDOWS:
                    if last - w < day <= last:
                        social[interaction, sentiment, w] += n
            for (survey, score, day), n in st.surveys.items():
                if first_survey_day <= day <= last:
                    surveys[survey, score] += n
        spend_fam = Family(
            "cs_acquisition_spend",
            "gauge",
            "spend_recorded amounts with ts in the window, by category (major units of "
            "CS_CURRENCY).",
        )
        for (category, w), minor in spend.items():
            spend_fam.add(major(minor, self.rate), category=category, currency=cur, window=f"{w}d")
        social_fam = Family(
            "cs_social_interactions",
            "gauge",
            "social_interaction events in the window, by interaction and sentiment "
            "(absent sentiment = neutral).",
        )
        for interaction in INTERACTIONS:
            for sentiment in SENTIMENTS:
                for w in SOCIAL_WINDOWS:
                    social_fam.add(
                        social[interaction, sentiment, w],
                        interaction=interaction,
                        sentiment=sentiment,
                        window=f"{w}d",
                    )
        survey_fam = Family(
            "cs_employee_survey_responses",
            "gauge",
            "employee_survey_answered events in the window, by survey and score "
            "(eNPS and satisfaction are recording rules over it).",
        )
        for survey, (low, high) in EMPLOYEE_SURVEY_RANGES.items():
            for score in range(low, high + 1):
                survey_fam.add(
                    surveys[survey, score],
                    survey=survey,
                    score=str(score),
                    window=f"{SURVEY_WINDOW}d",
                )
        return [spend_fam, social_fam, survey_fam]

    def dump(self, state: CompanyState) -> Any:
        return dump_state(state)

    def load(self, raw: Any) -> CompanyState:
        return load_state(raw)
