"""The KPI groups a core can run, in export order (``CS_GROUPS`` chooses among them).

Each group is a package of :mod:`stream_app.kpi.groups` (state, apply/read logic and its
settings mixin of :class:`stream_app.kpi.settings.KpiSettings`).
"""

from __future__ import annotations

from typing import Any

from stream_app.kpi.group import KpiGroup
from stream_app.kpi.groups.commerce.group import CommerceGroup
from stream_app.kpi.groups.company.group import CompanyGroup
from stream_app.kpi.groups.health.group import HealthGroup
from stream_app.kpi.groups.onboarding.group import OnboardingGroup
from stream_app.kpi.groups.revenue.group import RevenueGroup
from stream_app.kpi.groups.usage.group import UsageGroup
from stream_app.kpi.groups.web.group import WebGroup
from stream_app.kpi.settings import KpiSettings

GROUP_CLASSES: list[type[KpiGroup[Any]]] = [
    UsageGroup,
    OnboardingGroup,
    RevenueGroup,
    HealthGroup,
    CommerceGroup,
    CompanyGroup,
    WebGroup,
]


def group_names() -> list[str]:
    """The groups' names in export order (``usage``, ``onboarding``, ``revenue``, ``health``,
    ``commerce``, ``company``, ``web``)."""
    return [cls.name for cls in GROUP_CLASSES]


def build_groups(settings: KpiSettings) -> list[KpiGroup[Any]]:
    """Fresh instances of the groups ``CS_GROUPS`` switches on (each core owns its own
    aggregates), in export order."""
    wanted = settings.group_list
    return [cls(settings) for cls in GROUP_CLASSES if wanted is None or cls.name in wanted]
