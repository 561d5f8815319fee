"""Settings of the onboarding KPI group (activation, time to value, adoption).

Lists are comma-separated strings (so that ``CS_ACTIVATION_MILESTONES=a,b`` works as an
environment variable); the parsed forms are the ``*_names`` / ``*_bounds`` properties.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field, field_validator

#: 1h, 6h, 1d, 3d, 7d, 14d, 30d
DEFAULT_TIME_BUCKETS = "3600,21600,86400,259200,604800,1209600,2592000"
MAX_NAME = 64  # a milestone name's maximum length in the event contract


def split_names(text: str) -> tuple[str, ...]:
    """``"a, b,,a"`` -> ``("a", "b")``: stripped, empty parts dropped, first kept."""
    return tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))


def split_bounds(text: str) -> tuple[float, ...]:
    """``"3600, 60"`` -> ``(60.0, 3600.0)``: sorted, distinct, each a positive number."""
    return tuple(sorted({float(p) for p in text.split(",") if p.strip()}))


class OnboardingSettings(BaseModel):
    """Mixed into KpiSettings; fields become ``CS_<FIELD>`` environment variables."""

    activation_milestones: str = Field(
        "activated", description="comma list: an account is activated once it reached all"
    )
    first_value_milestone: str = Field("first_value", description="milestone of first value")
    proficiency_milestone: str = Field("proficient", description="milestone of proficiency")
    adoption_min_days: int = Field(
        8, ge=1, le=30, description="active days of the 30d window that make an account adopted"
    )
    time_to_first_value_buckets: str = Field(
        DEFAULT_TIME_BUCKETS, description="comma list of histogram bounds in seconds"
    )
    time_to_proficiency_buckets: str = Field(
        DEFAULT_TIME_BUCKETS, description="comma list of histogram bounds in seconds"
    )

    @field_validator("activation_milestones")
    @classmethod
    def _milestone_list(cls, value: str) -> str:
        names = split_names(value)
        if not names:
            raise ValueError("at least one activation milestone is required")
        for name in names:
            _check_name(name)
        return ",".join(names)

    @field_validator("first_value_milestone", "proficiency_milestone")
    @classmethod
    def _milestone(cls, value: str) -> str:
        return _check_name(value.strip())

    @field_validator("time_to_first_value_buckets", "time_to_proficiency_buckets")
    @classmethod
    def _bounds(cls, value: str) -> str:
        try:
            bounds = split_bounds(value)
        except ValueError:
            raise ValueError(f"not a comma list of numbers: {value!r}") from None
        if not bounds or any(not math.isfinite(b) or b <= 0 for b in bounds):
            raise ValueError("bucket bounds must be positive, finite seconds (at least one)")
        return ",".join(repr(b) for b in bounds)

    @property
    def activation_milestone_names(self) -> tuple[str, ...]:
        return split_names(self.activation_milestones)

    @property
    def time_to_first_value_bounds(self) -> tuple[float, ...]:
        return split_bounds(self.time_to_first_value_buckets)

    @property
    def time_to_proficiency_bounds(self) -> tuple[float, ...]:
        return split_bounds(self.time_to_proficiency_buckets)


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_NAME:
        raise ValueError(f"a milestone name has 1-{MAX_NAME} characters: {name!r}")
    return name
