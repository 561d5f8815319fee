"""Transport noise: redelivered duplicates and events that break the contract."""

from __future__ import annotations

from operator import itemgetter
from random import Random

from stream_app.generator.clock import derived_rng, new_id
from stream_app.generator.config import GeneratorConfig

#: the ways an injected event violates the contract
INVALID_KINDS = (
    "missing_field",
    "score_out_of_range",
    "naive_timestamp",
    "unknown_type",
    "number_as_string",
)
UNKNOWN_TYPES = ("app_opened", "user_logged_in", "trial_started", "SESSION_STARTED")
_NUMERIC = ("mrr", "amount", "score", "contacts", "engaged_ms", "max_scroll_pct")
_OPTIONAL = frozenset({"reason", "account_name"})  # dropping one is still valid
_WEB_OPTIONAL = frozenset({"referrer", "account_id", "user_id"})  # on web events
_BAD_SCORES = {"nps": (-1, 11, 12, 100), "csat": (0, 6, 10), "ces": (0, 8, 10)}
_BAD_EMPLOYEE_SCORES = {"enps": (-1, 11, 12), "satisfaction": (0, 6, 10)}
_BY_POSITION = itemgetter(0)


class Noise:
    """Adds ``duplicate_ratio`` redeliveries and ``invalid_ratio`` broken events to batches,
    and delivers ``web_late_ratio`` of the web events late.

    The counts are exact over the whole stream (carried across batches): after ``n`` events
    ``round(n * ratio)`` duplicates and invalid events have been added. A duplicate is a copy
    of an event (same ``event_id``) placed 1-50 positions after it in the batch; an invalid
    event has a fresh ``event_id`` and sits at a random position; a late web event (a beacon
    sent when the browser comes back online) moves 20-2000 positions later, its ``ts``
    unchanged. The randomness is separate from the company's, so the valid events do not
    depend on the ratios.
    """

    def __init__(self, cfg: GeneratorConfig, stream: str) -> None:
        self._dup_ratio = cfg.duplicate_ratio
        self._inv_ratio = cfg.invalid_ratio
        self._late_ratio = cfg.web_late_ratio
        self._rng = derived_rng(cfg.seed, "noise", stream)
        self._seen = self._dups = self._invalids = 0
        self._seen_web = self._lates = 0

    def apply(self, events: list[dict[str, object]]) -> list[dict[str, object]]:
        if not events or (
            self._dup_ratio == 0.0 and self._inv_ratio == 0.0 and self._late_ratio == 0.0
        ):
            return events
        rng, n = self._rng, len(events)
        self._seen += n
        n_dup = min(n, round(self._seen * self._dup_ratio) - self._dups)
        n_inv = round(self._seen * self._inv_ratio) - self._invalids
        self._dups += n_dup
        self._invalids += n_inv
        keyed: list[tuple[float, dict[str, object]]] = [(float(i), e) for i, e in enumerate(events)]
        if self._late_ratio:
            web = [i for i, e in enumerate(events) if "visitor_id" in e]
            self._seen_web += len(web)
            n_late = min(len(web), round(self._seen_web * self._late_ratio) - self._lates)
            self._lates += n_late
            for i in rng.sample(web, n_late):
                keyed[i] = (min(i + rng.randint(20, 2000), n - 1) + 0.75, events[i])
        for i in rng.sample(range(n), n_dup):
            keyed.append((min(i + rng.randint(1, 50), n - 1) + 0.5, dict(events[i])))
        for _ in range(n_inv):
            keyed.append((rng.random() * n, corrupt(rng, events[rng.randrange(n)])))
        keyed.sort(key=_BY_POSITION)
        return [event for _, event in keyed]


def corrupt(rng: Random, base: dict[str, object], kind: str | None = None) -> dict[str, object]:
    """A copy of ``base`` with a new id that ``parse_event`` rejects (``kind`` or random)."""
    kind = kind or rng.choice(INVALID_KINDS)
    event = dict(base)
    event["event_id"] = new_id(rng)
    if kind == "missing_field":
        optional = _WEB_OPTIONAL | _OPTIONAL if "visitor_id" in event else _OPTIONAL
        del event[rng.choice([key for key in event if key not in optional])]
    elif kind == "naive_timestamp":
        event["ts"] = str(event["ts"])[:-6]  # drop the "+HH:MM" offset
    elif kind == "unknown_type":
        event["type"] = rng.choice(UNKNOWN_TYPES)
    elif kind == "number_as_string" and any(key in event for key in _NUMERIC):
        key = rng.choice([key for key in _NUMERIC if key in event])
        event[key] = str(event[key])
    elif "account_id" not in base:  # a company event: an employee's answer out of range
        survey = rng.choice(tuple(_BAD_EMPLOYEE_SCORES))
        bad = rng.choice(_BAD_EMPLOYEE_SCORES[survey])
        event = {
            "event_id": event["event_id"],
            "type": "employee_survey_answered",
            "ts": base["ts"],
            "source": base.get("source") or "engineering",
            "survey": survey,
            "score": bad if kind == "score_out_of_range" else str(bad),
        }
    else:  # an out-of-range score, or a score sent as a string
        survey = rng.choice(tuple(_BAD_SCORES))
        bad = rng.choice(_BAD_SCORES[survey])
        event = {
            "event_id": event["event_id"],
            "type": "survey_answered",
            "ts": base["ts"],
            "account_id": base.get("account_id") or f"acc_{rng.getrandbits(40):010x}",
            "user_id": base.get("user_id") or f"usr_{rng.getrandbits(48):012x}",
            "survey": survey,
            "score": bad if kind == "score_out_of_range" else str(rng.randint(*_range(survey))),
        }
    return event


def _range(survey: str) -> tuple[int, int]:
    return {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[survey]
