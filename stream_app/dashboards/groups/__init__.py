"""The board panels of each KPI group, one module per group, named as the group.

``stream_app/dashboards/groups/<name>.py`` holds the panels of the group
``stream_app/kpi/groups/<name>/`` (its recording rules: ``prometheus/rules/<name>.yml``;
its docs: ``docs/kpis.md#group-<name>``). Every module offers the same three functions
(:class:`GroupPanels`); :mod:`stream_app.dashboards.boards` composes the boards from them.
"""

from __future__ import annotations

from typing import Protocol

from stream_app.dashboards.groups import commerce, company, health, onboarding, revenue, usage, web
from stream_app.dashboards.panels import Panels, Rows


class GroupPanels(Protocol):
    """What a group's module offers the boards (fresh builders on every call)."""

    def headline(self) -> Panels:
        """The group's panels on the overview's "Today" row."""
        ...

    def trends(self) -> Panels:
        """The group's panels on the overview's "Trends" row (may be empty)."""
        ...

    def rows(self) -> Rows:
        """The group's rows on its own board (or its part of a shared board)."""
        ...


#: the groups' modules in export order (stream_app.kpi.registry.GROUP_CLASSES)
ALL: tuple[GroupPanels, ...] = (usage, onboarding, revenue, health, commerce, company, web)
