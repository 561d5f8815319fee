"""Panel helpers over grafana-foundation-sdk: one look for every board.

Every panel queries the ``${datasource}`` variable, carries a description that says how
its numbers are computed, a unit, and thresholds coloured the way the industry reads the
KPI (the team's reference figures: docs/observability.md#thresholds).
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import bargauge, dashboard, piechart, prometheus, stat
from grafana_foundation_sdk.builders import common as parts
from grafana_foundation_sdk.builders import timeseries as ts
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.piechart import PieChartType
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")

#: (expr, legend) pairs: the queries of one panel
Queries = Sequence[tuple[str, str]]
#: threshold steps: (value, colour); the first value is None (-Infinity)
Steps = Sequence[tuple[float | None, str]]

NEUTRAL: Steps = [(None, "blue")]
# rules of thumb (docs/observability.md#thresholds)
STICKINESS: Steps = [(None, "red"), (0.10, "orange"), (0.13, "green")]
FEATURE_ADOPTION: Steps = [(None, "orange"), (0.28, "green")]
CHURN: Steps = [(None, "green"), (0.08, "orange"), (0.10, "red")]
RETENTION: Steps = [(None, "red"), (0.80, "orange"), (0.90, "green")]
RENEWAL: Steps = [(None, "red"), (0.75, "orange"), (0.85, "green")]
NPS: Steps = [(None, "red"), (0, "yellow"), (20, "green"), (50, "dark-green")]
CSAT: Steps = [(None, "red"), (0.60, "orange"), (0.75, "green"), (0.85, "dark-green")]
CES_7: Steps = [(None, "green"), (3, "orange"), (4, "red")]
REJECTED: Steps = [(None, "green"), (0.01, "orange"), (0.05, "red")]
LAG: Steps = [(None, "green"), (1_000, "orange"), (10_000, "red")]
STALENESS: Steps = [(None, "green"), (60, "orange"), (900, "red")]
HEALTH_COLOURS = {"healthy": "green", "at_risk": "orange", "critical": "red"}


def thresholds(steps: Steps) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value, colour) for value, colour in steps])
    )


def targets(queries: Queries, *, instant: bool, heatmap: bool = False) -> list[Builder]:
    out: list[Builder] = []
    for i, (expr, legend) in enumerate(queries):
        query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(65 + i))
        query = query.instant() if instant else query.range()
        if heatmap:
            query = query.format(PromQueryFormat.HEATMAP)
        out.append(query)
    return out


def stat_panel(
    title: str,
    description: str,
    queries: Queries,
    unit: str,
    steps: Steps = NEUTRAL,
    *,
    w: int = 6,
    h: int = 4,
    decimals: int | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets(queries, instant=False))
        .unit(unit)
        .thresholds(thresholds(steps))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(parts.ReduceDataOptions().calcs(["lastNotNull"]))
        .span(w)
        .height(h)
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def time_panel(
    title: str,
    description: str,
    queries: Queries,
    unit: str,
    steps: Steps | None = None,
    *,
    w: int = 12,
    h: int = 8,
    stacked: bool = False,
) -> ts.Panel:
    panel = (
        ts.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets(queries, instant=False))
        .unit(unit)
        .fill_opacity(10)
        .legend(
            parts.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
        .span(w)
        .height(h)
    )
    if steps is not None:
        panel = panel.thresholds(thresholds(steps)).thresholds_style(
            parts.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
        )
    if stacked:
        panel = panel.stacking(parts.StackingConfig().mode(common.StackingMode.NORMAL))
    return panel


def bar_panel(
    title: str,
    description: str,
    queries: Queries,
    unit: str,
    steps: Steps = NEUTRAL,
    *,
    w: int = 12,
    h: int = 8,
    heatmap: bool = False,
    max_value: float | None = None,
) -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets(queries, instant=True, heatmap=heatmap))
        .unit(unit)
        .thresholds(thresholds(steps))
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(parts.ReduceDataOptions().calcs(["lastNotNull"]))
        .min(0)
        .span(w)
        .height(h)
    )
    if max_value is not None:
        panel = panel.max(max_value)
    return panel


def band_panel(title: str, description: str, expr: str, *, w: int = 8, h: int = 8) -> Builder:
    """Accounts by health band: a donut with the bands in their traffic-light colours."""
    panel = (
        piechart.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets([(expr, "{{band}}")], instant=True))
        .unit("short")
        .pie_type(PieChartType.DONUT)
        .reduce_options(parts.ReduceDataOptions().calcs(["lastNotNull"]))
        .span(w)
        .height(h)
    )
    for band, colour in HEALTH_COLOURS.items():
        panel = panel.override_by_name(
            band,
            [
                model.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": colour}
                )
            ],
        )
    return panel


def board(
    uid: str, title: str, description: str, rows: Sequence[tuple[str, list[Builder]]]
) -> dashboard.Dashboard:
    """A dashboard of titled rows; panels flow left to right in 24 columns."""
    built = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["stream-app", "customer-success"])
        .editable()
        .refresh("30s")
        .time("now-24h", "now")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")
        )
    )
    for row_title, panels in rows:
        built = built.with_row(dashboard.Row(row_title))
        for panel in panels:
            built = built.with_panel(panel)
    return built
