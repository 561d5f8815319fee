"""The company's own events (topic ``company-events``, keyed by ``source``): daily
campaign spend, monthly salaries and overhead, social-network interactions with a
sentiment mix, and quarterly employee surveys (eNPS and satisfaction).

Amounts and volumes scale with the number of accounts, so CAC and CLV:CAC stay in a
plausible range (CLV about 3-5 x CAC). One random stream (``derived_rng(seed,
"backoffice")``) drives it all, apart from the accounts' streams.
"""

from __future__ import annotations

from datetime import date, timedelta
from random import Random

from stream_app.generator.clock import US_PER_DAY, US_PER_HOUR, US_PER_SEC, derived_rng, new_id
from stream_app.generator.config import CURRENCY, GeneratorConfig
from stream_app.generator.sink import DaySink

#: campaign sources and their share of the daily marketing budget
CAMPAIGNS: tuple[tuple[str, float], ...] = (
    ("google-ads", 0.5),
    ("linkedin-ads", 0.35),
    ("newsletter-sponsoring", 0.15),
)
#: per account and month (minor units): campaigns, salaries (sales + success), overhead
_MARKETING = 6_000
_SALARIES = 9_000
_OVERHEAD = 3_000
NETWORKS = ("linkedin", "x", "reddit")
_NETWORK_WEIGHTS = (0.5, 0.3, 0.2)
_INTERACTIONS = ("mention", "comment", "share", "like")
_INTERACTION_WEIGHTS = (30, 20, 15, 35)
#: sentiment of an interaction; None = no sentiment field (reads as neutral)
_SENTIMENTS: tuple[str | None, ...] = ("positive", "neutral", None, "negative")
_SENTIMENT_WEIGHTS = (40, 15, 30, 15)
#: teams running an employee survey once a quarter, each in its own month of the quarter
TEAMS: tuple[str, ...] = ("engineering", "customer-success", "sales")
_SURVEY_DAYS = 10  # a survey is open the first 10 days of its month
_ENPS_WEIGHTS = (1, 1, 1, 1, 2, 3, 4, 10, 14, 16, 12)  # scores 0..10: eNPS about +20
_SATISFACTION_WEIGHTS = (2, 5, 15, 45, 33)  # scores 1..5
_EPOCH = date(1970, 1, 1)


class Backoffice:
    """Spend, social and employee-survey events, one UTC day at a time."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self._rng: Random = derived_rng(cfg.seed, "backoffice")
        self._accounts = cfg.accounts

    def day(self, sink: DaySink) -> None:
        rng, start = self._rng, sink.day_start
        today = _EPOCH + timedelta(days=start // US_PER_DAY)
        weekday = today.weekday() < 5
        # campaigns bill every day, less at weekends
        budget = self._accounts * _MARKETING * 12 / 365 * (1.15 if weekday else 0.6)
        for source, share in CAMPAIGNS:
            amount = round(budget * share * rng.uniform(0.7, 1.3))
            self._spend(
                sink, start + int(rng.uniform(1, 5) * US_PER_HOUR), source, "marketing", amount
            )
        if today.day == 1:  # payroll and overhead are booked on the first of the month
            salaries = round(self._accounts * _SALARIES * rng.uniform(0.97, 1.03))
            overhead = round(self._accounts * _OVERHEAD * rng.uniform(0.8, 1.2))
            self._spend(sink, start + 6 * US_PER_HOUR, "payroll", "salaries", salaries)
            self._spend(sink, start + 7 * US_PER_HOUR, "office", "overhead", overhead)
        self._social(sink, weekday)
        self._surveys(sink, today)

    def _spend(self, sink: DaySink, ts: int, source: str, category: str, amount: int) -> None:
        sink.add(
            ts,
            {
                "event_id": new_id(self._rng),
                "type": "spend_recorded",
                "ts": "",
                "source": source,
                "category": category,
                "amount": amount,
                "currency": CURRENCY,
            },
        )

    def _social(self, sink: DaySink, weekday: bool) -> None:
        rng = self._rng
        mean = max(1.0, self._accounts / 8) * (1.0 if weekday else 0.5)
        count = int(rng.uniform(0.5, 1.5) * mean)
        for _ in range(count):
            event: dict[str, object] = {
                "event_id": new_id(rng),
                "type": "social_interaction",
                "ts": "",
                "source": rng.choices(NETWORKS, _NETWORK_WEIGHTS)[0],
                "interaction": rng.choices(_INTERACTIONS, _INTERACTION_WEIGHTS)[0],
            }
            sentiment = rng.choices(_SENTIMENTS, _SENTIMENT_WEIGHTS)[0]
            if sentiment is not None:
                event["sentiment"] = sentiment
            sink.add(sink.day_start + int(rng.random() * US_PER_DAY), event)

    def _surveys(self, sink: DaySink, today: date) -> None:
        if today.day > _SURVEY_DAYS:
            return
        rng = self._rng
        team = TEAMS[(today.month - 1) % len(TEAMS)]
        # each employee answers once, on one of the open days: a share of them per day
        employees = 6 + self._accounts // 25
        answering = sum(rng.random() < 0.08 for _ in range(employees))
        for _ in range(answering):
            ts = sink.day_start + int(rng.uniform(8, 18) * US_PER_HOUR)
            enps = rng.choices(range(11), _ENPS_WEIGHTS)[0]
            satisfaction = rng.choices(range(1, 6), _SATISFACTION_WEIGHTS)[0]
            for survey, score, delay in (("enps", enps, 0), ("satisfaction", satisfaction, 40)):
                sink.add(
                    ts + delay * US_PER_SEC,
                    {
                        "event_id": new_id(rng),
                        "type": "employee_survey_answered",
                        "ts": "",
                        "source": team,
                        "survey": survey,
                        "score": score,
                    },
                )
