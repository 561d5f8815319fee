"""Settings of the commerce KPI group (checkouts and orders)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CommerceSettings(BaseModel):
    """Mixed into KpiSettings; fields become ``CS_<FIELD>`` environment variables."""

    checkout_abandon_s: int = Field(
        86_400,
        ge=1,
        le=30 * 86_400,
        description=(
            "seconds after its start within which an order must carry a checkout's id for "
            "the checkout to count as converted; it is judged (abandoned or not) only once "
            "T is that long after its start"
        ),
    )
