"""Settings of the company KPI group (acquisition spend, social listening, employee voice).

It has none of its own yet: spend is converted with the revenue group's ``CS_CURRENCY`` and
``CS_FX_RATES``, and days follow the core's ``CS_TIMEZONE``. The model is mixed into
``KpiSettings`` like every group's, so a setting added here needs no other change.
"""

from __future__ import annotations

from pydantic import BaseModel


class CompanySettings(BaseModel):
    """Mixed into KpiSettings; fields become ``CS_<FIELD>`` environment variables."""
