"""Settings of the health group: voice of the customer, support and account health
(docs/health.md).

Every field is a ``CS_<FIELD>`` environment variable (e.g. ``CS_HEALTH_WEIGHT_RECENCY``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class HealthSettings(BaseModel):
    """Mixed into KpiSettings; fields become ``CS_<FIELD>`` environment variables."""

    ticket_retention_days: int = Field(
        90,
        ge=31,
        le=3650,
        description=(
            "days of ticket events kept per account (counted back from its latest event): "
            "an older opening is forgotten, so a ticket open longer is no longer counted "
            "as open and its resolution time is unknown"
        ),
    )
    # -- component weights (renormalised over the components that have data) ----------
    health_weight_recency: float = Field(25.0, ge=0, description="weight of usage recency")
    health_weight_usage_breadth: float = Field(20.0, ge=0, description="weight of usage breadth")
    health_weight_feature_breadth: float = Field(
        15.0, ge=0, description="weight of feature breadth"
    )
    health_weight_sentiment: float = Field(15.0, ge=0, description="weight of sentiment")
    health_weight_support: float = Field(10.0, ge=0, description="weight of support burden")
    health_weight_billing: float = Field(15.0, ge=0, description="weight of billing risk")
    # -- component thresholds -------------------------------------------------------------
    health_recency_full_days: int = Field(
        2, ge=0, description="days since the last activity that still score 100"
    )
    health_recency_zero_days: int = Field(
        21, ge=1, description="days since the last activity that score 0 (linear between)"
    )
    health_usage_breadth_target: float = Field(
        0.6, gt=0, le=1, description="share of the account's users active in 30d that scores 100"
    )
    health_feature_target: int = Field(
        5, ge=1, description="distinct features used in 30d that score 100"
    )
    health_sentiment_days: int = Field(
        180, ge=1, le=3650, description="days a user's latest NPS/CSAT answer counts"
    )
    health_open_ticket_penalty: float = Field(20.0, ge=0, description="points per open ticket")
    health_slow_resolution_penalty: float = Field(
        10.0, ge=0, description="points per slow resolution in 30d"
    )
    health_slow_resolution_seconds: int = Field(
        86_400, ge=1, description="a resolution that took longer is slow"
    )
    health_failed_payment_penalty: float = Field(
        25.0, ge=0, description="points per failed payment in 30d"
    )
    health_contraction_penalty: float = Field(
        30.0, ge=0, description="points per MRR contraction in 30d"
    )
    health_cancellation_penalty: float = Field(
        100.0, ge=0, description="points per cancellation in 30d"
    )
    # -- bands ----------------------------------------------------------------------------
    health_healthy_min: float = Field(70.0, ge=0, le=100, description="lowest healthy score")
    health_at_risk_min: float = Field(40.0, ge=0, le=100, description="lowest at-risk score")

    @model_validator(mode="after")
    def _consistent_health(self) -> HealthSettings:
        if self.health_recency_zero_days <= self.health_recency_full_days:
            raise ValueError("CS_HEALTH_RECENCY_ZERO_DAYS must exceed CS_HEALTH_RECENCY_FULL_DAYS")
        if self.health_at_risk_min > self.health_healthy_min:
            raise ValueError("CS_HEALTH_AT_RISK_MIN must not exceed CS_HEALTH_HEALTHY_MIN")
        weights = (
            self.health_weight_recency,
            self.health_weight_usage_breadth,
            self.health_weight_feature_breadth,
            self.health_weight_sentiment,
            self.health_weight_support,
            self.health_weight_billing,
        )
        if sum(weights) <= 0:
            raise ValueError("at least one CS_HEALTH_WEIGHT_* must be positive")
        return self
