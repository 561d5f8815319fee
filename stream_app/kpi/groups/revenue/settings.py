"""Settings of the revenue KPI group: the reporting currency and exchange rates."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import NoDecode

_CODE = re.compile(r"^[A-Z]{3}$")


class RevenueSettings(BaseModel):
    """Mixed into KpiSettings; fields become ``CS_<FIELD>`` environment variables."""

    currency: str = Field(
        "USD",
        pattern=r"^[A-Z]{3}$",
        description="reporting currency (ISO 4217): money metrics are in its major units",
    )
    fx_rates: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        description=(
            "units of the reporting currency per 1 unit of another currency, "
            "e.g. 'EUR=1.08,GBP=1.27' (or a JSON object); events in any other currency "
            "are rejected with reason 'currency'"
        ),
    )

    @field_validator("fx_rates", mode="before")
    @classmethod
    def _parse_rates(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("{"):
            return orjson.loads(text)
        rates: dict[str, str] = {}
        for item in re.split(r"[,;\s]+", text):
            if not item:
                continue
            code, sep, rate = item.partition("=")
            if not sep:
                raise ValueError(f"{item!r}: expected CODE=RATE, e.g. EUR=1.08")
            rates[code.strip()] = rate.strip()
        return rates

    @field_validator("fx_rates", mode="after")
    @classmethod
    def _valid_rates(cls, value: dict[str, float]) -> dict[str, float]:
        for code, rate in value.items():
            if not _CODE.match(code):
                raise ValueError(f"{code!r} is not a three-letter upper-case currency code")
            if not math.isfinite(rate) or rate <= 0:
                raise ValueError(f"{code}: the rate must be a positive number")
        return value

    @model_validator(mode="after")
    def _reporting_rate_is_one(self) -> RevenueSettings:
        rate = self.fx_rates.get(self.currency)
        if rate is not None and rate != 1.0:
            raise ValueError(f"fx_rates: the reporting currency {self.currency} has rate 1")
        return self

    def fx_rate(self, currency: str) -> float | None:
        """Reporting-currency units per unit of ``currency``; None when not configured."""
        if currency == self.currency:
            return 1.0
        return self.fx_rates.get(currency)
