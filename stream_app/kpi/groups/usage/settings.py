"""Settings of the usage KPI group (active users, feature users)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UsageSettings(BaseModel):
    """Mixed into KpiSettings; fields become ``CS_<FIELD>`` environment variables."""

    feature_limit: int = Field(200, ge=1, description="distinct feature names before folding")
