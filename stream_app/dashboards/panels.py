"""Panel helpers over grafana-foundation-sdk: one look for every board.

Every panel queries the ``${datasource}`` variable, carries a description that says how
its numbers are computed, a unit, and thresholds coloured the way the industry reads the
KPI (the team's reference figures: docs/observability.md#thresholds; each group's steps
are in its module, stream_app/dashboards/groups/<name>.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import bargauge, dashboard, prometheus, stat, table
from grafana_foundation_sdk.builders import common as parts
from grafana_foundation_sdk.builders import timeseries as ts
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")

#: (expr, legend) pairs: the queries of one panel
Queries = Sequence[tuple[str, str]]
#: threshold steps: (value, colour); the first value is None (-Infinity)
Steps = Sequence[tuple[float | None, str]]
#: the panels of one row, and titled rows of panels
Panels = list[Builder]
Rows = list[tuple[str, Panels]]

NEUTRAL: Steps = [(None, "blue")]


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


def matrix_panel(
    title: str,
    description: str,
    expr: str,
    rows: str,
    columns: Sequence[str],
    unit: str,
    steps: Steps = NEUTRAL,
    *,
    column_label: str,
    w: int = 24,
    h: int = 10,
) -> table.Panel:
    """A table of one instant query's values: a row per value of the label ``rows``, a
    column per value of ``column_label`` (in the order of ``columns``), coloured cells;
    e.g. a cohort retention triangle."""
    corner = f"{rows}\\{column_label}"
    query = (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format("")
        .ref_id("A")
        .instant()
        .format(PromQueryFormat.TABLE)
    )
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([query])
        .unit(unit)
        .thresholds(thresholds(steps))
        .cell_options(common.TableColoredBackgroundCellOptions())
        .transformations(
            [
                model.DataTransformerConfig(
                    id_val="groupingToMatrix",
                    options={
                        "rowField": rows,
                        "columnField": column_label,
                        "valueField": "Value",
                        "emptyValue": "null",
                    },
                ),
                model.DataTransformerConfig(
                    id_val="organize",
                    options={
                        "indexByName": {
                            corner: 0,
                            **{c: i for i, c in enumerate(columns, start=1)},
                        },
                        "renameByName": {corner: rows},
                    },
                ),
            ]
        )
        .sort_by([parts.TableSortByFieldState().display_name(rows).desc(True)])
        .span(w)
        .height(h)
    )


def board(uid: str, title: str, description: str, rows: Rows) -> dashboard.Dashboard:
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
