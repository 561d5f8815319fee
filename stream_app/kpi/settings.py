"""The KPI core's settings: flags or ``CS_``-prefixed environment variables
(pydantic-settings), shared by the worker and ``replay``. Each group's own settings are
mixed in from ``stream_app/kpi/groups/<name>/settings.py``."""

from __future__ import annotations

from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream_app.kpi.groups.commerce.settings import CommerceSettings
from stream_app.kpi.groups.company.settings import CompanySettings
from stream_app.kpi.groups.health.settings import HealthSettings
from stream_app.kpi.groups.onboarding.settings import OnboardingSettings
from stream_app.kpi.groups.revenue.settings import RevenueSettings
from stream_app.kpi.groups.usage.settings import UsageSettings
from stream_app.kpi.groups.web.settings import WebSettings


class KpiSettings(
    UsageSettings,
    OnboardingSettings,
    RevenueSettings,
    HealthSettings,
    CommerceSettings,
    CompanySettings,
    WebSettings,
    BaseSettings,
):
    """What the KPI core needs; shared by the worker and ``replay``."""

    model_config = SettingsConfigDict(env_prefix="CS_", extra="ignore")

    timezone: str = Field("UTC", description="IANA zone that defines calendar days")
    dedupe_horizon_days: int = Field(7, ge=1, description="days of event time ids are kept")
    max_message_bytes: int = Field(1_048_576, ge=256, description="larger messages are rejected")
    max_lateness_days: int = Field(90, ge=1, description="older events are rejected (too_late)")
    groups: str = Field(
        "all",
        description="the KPI groups to run: all, or their names separated by commas "
        "(e.g. usage,revenue); the others' metrics are not exported",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value

    @field_validator("groups")
    @classmethod
    def _known_groups(cls, value: str) -> str:
        from stream_app.kpi.registry import group_names  # the registry imports this module

        names = [n.strip() for n in value.split(",") if n.strip()]
        if names == ["all"]:
            return "all"
        unknown = sorted(set(names) - set(group_names()))
        if unknown or not names:
            known = ", ".join(group_names())
            raise ValueError(f"unknown KPI group(s) {', '.join(unknown) or '(none)'}: use {known}")
        return ",".join(names)

    @property
    def group_list(self) -> list[str] | None:
        """The names of the groups to run, None for all."""
        return None if self.groups == "all" else self.groups.split(",")

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
