"""The account health score: pure functions from an account's facts to 0-100.

Each component scores 0-100; the score is their weighted mean over the components that
have data (weights renormalised). Bands: healthy >= CS_HEALTH_HEALTHY_MIN, at risk >=
CS_HEALTH_AT_RISK_MIN, else critical; a churned account (its latest subscription event
is a cancellation) is in no band. Defaults and reasoning: docs/health.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from stream_app.kpi.groups.health.settings import HealthSettings

HEALTHY, AT_RISK, CRITICAL, CHURNED = "healthy", "at_risk", "critical", "churned"
BANDS: tuple[str, ...] = (HEALTHY, AT_RISK, CRITICAL)
COMPONENTS: tuple[str, ...] = (
    "usage_recency",
    "usage_breadth",
    "feature_breadth",
    "sentiment",
    "support_burden",
    "billing_risk",
)


@dataclass(slots=True)
class HealthFacts:
    """What the score is computed from, as of one day (None: no data for that part)."""

    days_since_activity: int | None = None  # None: no product event
    users: int = 0
    active_users_30d: int = 0
    features_30d: int = 0
    nps: float | None = None  # -100..100 over the users' latest NPS answers
    nps_answers: int = 0
    csat: float | None = None  # 0..1: share of 4-5 among the users' latest CSAT answers
    csat_answers: int = 0
    open_tickets: int | None = None  # None: no ticket event in the retention
    slow_resolutions_30d: int = 0
    failed_payments_30d: int | None = None  # None: no billing event
    contractions_30d: int = 0
    cancellations_30d: int = 0
    churned: bool = False


class Component(NamedTuple):
    score: float  # 0-100
    weight: float  # as configured
    contribution: float  # points of the final score (weight renormalised)


@dataclass(slots=True)
class Health:
    score: float | None  # None when no component has data
    band: str | None  # healthy / at_risk / critical / churned; None without a score
    components: dict[str, Component]
    facts: HealthFacts

    def summary(self) -> dict[str, Any]:
        """JSON form: score, band and each component's score, weight and contribution."""
        return {
            "score": self.score,
            "band": self.band,
            "components": {
                name: {
                    "score": round(c.score, 1),
                    "weight": c.weight,
                    "contribution": round(c.contribution, 1),
                }
                for name, c in self.components.items()
            },
            "left_out": [n for n in COMPONENTS if n not in self.components],
        }


def _clamp(value: float) -> float:
    return min(100.0, max(0.0, value))


def recency_score(days: int, cfg: HealthSettings) -> float:
    """100 up to ``full`` days since the last activity, 0 from ``zero`` days, linear between."""
    full, zero = cfg.health_recency_full_days, cfg.health_recency_zero_days
    return _clamp(100.0 * (zero - days) / (zero - full)) if days > full else 100.0


def component_scores(facts: HealthFacts, cfg: HealthSettings) -> dict[str, float]:
    """Score of each component that has data, 0-100, in :data:`COMPONENTS` order."""
    out: dict[str, float] = {}
    if facts.days_since_activity is not None:
        out["usage_recency"] = recency_score(facts.days_since_activity, cfg)
    if facts.users:
        share = facts.active_users_30d / facts.users
        out["usage_breadth"] = _clamp(100.0 * share / cfg.health_usage_breadth_target)
        out["feature_breadth"] = _clamp(100.0 * facts.features_30d / cfg.health_feature_target)
    parts: list[float] = []
    if facts.nps is not None:
        parts.append((facts.nps + 100.0) / 2.0)
    if facts.csat is not None:
        parts.append(100.0 * facts.csat)
    if parts:
        out["sentiment"] = _clamp(sum(parts) / len(parts))
    if facts.open_tickets is not None:
        out["support_burden"] = _clamp(
            100.0
            - cfg.health_open_ticket_penalty * facts.open_tickets
            - cfg.health_slow_resolution_penalty * facts.slow_resolutions_30d
        )
    if facts.failed_payments_30d is not None:
        out["billing_risk"] = _clamp(
            100.0
            - cfg.health_failed_payment_penalty * facts.failed_payments_30d
            - cfg.health_contraction_penalty * facts.contractions_30d
            - cfg.health_cancellation_penalty * facts.cancellations_30d
        )
    return out


def weights(cfg: HealthSettings) -> dict[str, float]:
    return {
        "usage_recency": cfg.health_weight_recency,
        "usage_breadth": cfg.health_weight_usage_breadth,
        "feature_breadth": cfg.health_weight_feature_breadth,
        "sentiment": cfg.health_weight_sentiment,
        "support_burden": cfg.health_weight_support,
        "billing_risk": cfg.health_weight_billing,
    }


def band_of(score: float, cfg: HealthSettings) -> str:
    if score >= cfg.health_healthy_min:
        return HEALTHY
    if score >= cfg.health_at_risk_min:
        return AT_RISK
    return CRITICAL


def weighted_score(scores: dict[str, float], configured: dict[str, float]) -> float | None:
    """The weighted mean of ``scores`` (0-100, one decimal); None when no weight is left."""
    total = 0.0
    points = 0.0
    for name, score in scores.items():
        weight = configured[name]
        if weight > 0:
            total += weight
            points += weight * score
    return round(points / total, 1) if total else None


def evaluate(
    facts: HealthFacts, cfg: HealthSettings, configured: dict[str, float] | None = None
) -> Health:
    """The account's health from its facts (components without data or weight left out);
    ``configured``: :func:`weights` of ``cfg``, when the caller keeps them."""
    scores = component_scores(facts, cfg)
    if configured is None:
        configured = weights(cfg)
    value = weighted_score(scores, configured)
    if value is None:
        return Health(None, CHURNED if facts.churned else None, {}, facts)
    total = sum(configured[name] for name in scores if configured[name] > 0)
    components = {
        name: Component(score, configured[name], configured[name] * score / total)
        for name, score in scores.items()
        if configured[name] > 0
    }
    band = CHURNED if facts.churned else band_of(value, cfg)
    return Health(value, band, components, facts)
