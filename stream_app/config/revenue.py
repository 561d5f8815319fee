"""Settings of the revenue KPI group (filled by the issue that adds the group)."""

from __future__ import annotations

from pydantic import BaseModel


class RevenueSettings(BaseModel):
    """Mixed into KpiSettings; fields become ``CS_<FIELD>`` environment variables."""
