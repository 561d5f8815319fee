"""The KPI groups every core runs, in export order. Add a group here to switch it on."""

from __future__ import annotations

from typing import Any

from stream_app.kpi.group import KpiGroup
from stream_app.kpi.health import VoiceHealthKpis
from stream_app.kpi.onboarding import OnboardingKpis
from stream_app.kpi.revenue import RevenueKpis
from stream_app.kpi.usage import UsageKpis
from stream_app.settings import KpiSettings

GROUP_CLASSES: list[type[KpiGroup[Any]]] = [
    UsageKpis,
    OnboardingKpis,
    RevenueKpis,
    VoiceHealthKpis,
]


def build_groups(settings: KpiSettings) -> list[KpiGroup[Any]]:
    """Fresh group instances (each core owns its own aggregates)."""
    return [cls(settings) for cls in GROUP_CLASSES]
