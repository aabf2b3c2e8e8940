"""The panel kinds every dashboard uses, with the cityiot conventions already applied.

Each helper returns an SDK builder (bilingual title, the datasource variable, unit, size), so a
dashboard module reads as a list of "what this panel shows" (title, query, unit) and nothing else.
Units are Grafana's unit ids: ``currencyCNY`` (¥, values already converted from fen),
``masskg``, ``percent``, ``velocitykmh``, ``short``, ``none``. Thresholds, names, colours and
mappings come from :mod:`dashboards.fields`, the bilingual words from :mod:`dashboards.labels`.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import (
    barchart,
    dashboard,
    geomap,
    piechart,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import geomap as geomap_m
from grafana_foundation_sdk.models import piechart as piechart_m

from dashboards.fields import (
    Query,
    display_names,
    fixed_colors,
    group_latest,
    steps,
    value_names,
)
from dashboards.influxql import DATASOURCE
from dashboards.labels import title

__all__ = [
    "bars",
    "geomap_panel",
    "pie",
    "stat_panel",
    "table_panel",
    "timeseries_panel",
]

# Roll-ups are per minute: a finer $__interval would draw empty buckets between windows.
MIN_INTERVAL = "1m"
# 三江口, the old city centre: the map opens on the urban districts.
NINGBO_LAT = 29.87
NINGBO_LON = 121.55


def _common(
    panel: cogbuilder.Builder[dm.Panel],
    *,
    queries: Sequence[Query],
    description: str,
    unit: str,
    w: int,
    h: int,
) -> None:
    # Every SDK panel builder has these methods; the Builder base type does not declare them.
    p = panel
    p.datasource(DATASOURCE)  # type: ignore[attr-defined]
    p.targets(list(queries))  # type: ignore[attr-defined]
    p.description(description)  # type: ignore[attr-defined]
    p.unit(unit)  # type: ignore[attr-defined]
    p.span(w).height(h)  # type: ignore[attr-defined]


def stat_panel(
    zh: str,
    en: str,
    *queries: Query,
    description: str,
    unit: str,
    thresholds: dashboard.ThresholdsConfig | None = None,
    decimals: int | None = None,
    time_from: str | None = None,
    w: int = 4,
    h: int = 4,
) -> stat.Panel:
    """A big number (sum or last value over the range, or over ``time_from`` such as today)."""
    panel = (
        stat.Panel()
        .title(title(zh, en))
        .graph_mode(common.BigValueGraphMode.AREA)
        .color_mode(common.BigValueColorMode.VALUE)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(thresholds or steps((None, "green")))
    )
    _common(panel, queries=queries, description=description, unit=unit, w=w, h=h)
    if decimals is not None:
        panel.decimals(decimals)
    if time_from is not None:
        panel.time_from(time_from)
    return panel


def timeseries_panel(
    zh: str,
    en: str,
    *queries: Query,
    description: str,
    unit: str,
    stack: bool = False,
    draw_bars: bool = False,
    names: dict[str, str] | None = None,
    colors: dict[str, str] | None = None,
    thresholds: dashboard.ThresholdsConfig | None = None,
    interval: str = MIN_INTERVAL,
    w: int = 12,
    h: int = 8,
) -> timeseries.Panel:
    """Lines (or stacked bars per interval), one series per tag value."""
    panel = (
        timeseries.Panel()
        .title(title(zh, en))
        .fill_opacity(30 if stack or draw_bars else 10)
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .overrides(display_names(names or {}) + fixed_colors(colors or {}))
        .interval(interval)
    )
    _common(panel, queries=queries, description=description, unit=unit, w=w, h=h)
    if stack:
        panel.stacking(common_b.StackingConfig().mode(common.StackingMode.NORMAL))
    if draw_bars:
        panel.draw_style(common.GraphDrawStyle.BARS)
    if thresholds is not None:
        panel.thresholds(thresholds).thresholds_style(
            common_b.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
        )
    return panel


def pie(
    zh: str,
    en: str,
    *queries: Query,
    description: str,
    unit: str,
    names: dict[str, str],
    w: int = 6,
    h: int = 8,
) -> piechart.Panel:
    """Shares of a whole: one slice per series (``GROUP BY`` a tag, alias ``$tag_<key>``)."""
    panel = (
        piechart.Panel()
        .title(title(zh, en))
        .pie_type(piechart_m.PieChartType.DONUT)
        .hide_from(common_b.HideSeriesConfig().legend(False).tooltip(False).viz(False))
        .reduce_options(common_b.ReduceDataOptions().calcs(["sum"]).values(False))
        .legend(
            piechart.PieChartLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.RIGHT)
            .show_legend(True)
            .values([piechart_m.PieChartLegendValues.PERCENT])
        )
        .overrides(display_names(names))
    )
    _common(panel, queries=queries, description=description, unit=unit, w=w, h=h)
    return panel


def bars(
    zh: str,
    en: str,
    *queries: Query,
    description: str,
    unit: str,
    x_field: str,
    mappings: dict[str, str] | None = None,
    latest: Sequence[str] = (),
    stack: bool = False,
    thresholds: dashboard.ThresholdsConfig | None = None,
    w: int = 12,
    h: int = 8,
) -> barchart.Panel:
    """Categories on x (a tag column of a ``table`` query), one bar per numeric column.

    Several table queries are merged on their tag column (Grafana's ``merge`` transformation).
    ``latest`` names columns of a query grouped by ``time(1m)`` and the x tag: Grafana's
    ``groupBy`` transformation keeps each one's last value per x (the latest minute), which
    InfluxQL could only do with a subquery.
    """
    panel = (
        barchart.Panel()
        .title(title(zh, en))
        .x_field(x_field)
        # Grafana's defaults, set so the SDK's from_json (which fills them) round-trips exactly.
        .line_width(1)
        .fill_opacity(80)
        .gradient_mode(common.GraphGradientMode.NONE)
        .show_value(common.VisibilityMode.AUTO)
        .orientation(common.VizOrientation.AUTO)
        .mappings(value_names(mappings or {}))
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if len(queries) > 1:
        panel.with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
    if latest:
        panel.with_transformation(group_latest(x_field, latest))
    if stack:
        panel.stacking(common.StackingMode.NORMAL)
    if thresholds is not None:
        panel.thresholds(thresholds)
    _common(panel, queries=queries, description=description, unit=unit, w=w, h=h)
    return panel


def table_panel(
    zh: str,
    en: str,
    *queries: Query,
    description: str,
    unit: str,
    mappings: dict[str, str] | None = None,
    column_mappings: dict[str, dict[str, str]] | None = None,
    column_units: dict[str, str] | None = None,
    zero_when_empty: Sequence[str] = (),
    transformations: Sequence[dm.DataTransformerConfig] = (),
    sort_desc: str | None = None,
    thresholds: dashboard.ThresholdsConfig | None = None,
    w: int = 12,
    h: int = 8,
) -> table.Panel:
    """Rows of ``table`` queries (silent devices, firing alerts), tag values shown by name.

    ``transformations`` (:mod:`dashboards.transforms`) turn several queries into one table;
    ``column_units``, ``zero_when_empty`` (counts that have no row when nothing happened: shown
    as 0, not blank) and ``sort_desc`` name its columns as shown (after any rename).
    """
    panel = (
        table.Panel()
        .title(title(zh, en))
        .align(common.FieldTextAlignment.AUTO)  # Grafana's defaults, for an exact round trip
        .inspect(False)
        .mappings(value_names(mappings or {}))
        .thresholds(thresholds or steps((None, "green")))
    )
    for column, names in (column_mappings or {}).items():
        # Per column: mapping 1 → "firing" must not rename a 1 in another column.
        panel.override_by_name(
            column, [dm.DynamicConfigValue(id_val="mappings", value=value_names(names))]
        )
    for column, column_unit in (column_units or {}).items():
        panel.override_by_name(column, [dm.DynamicConfigValue(id_val="unit", value=column_unit)])
    for column in zero_when_empty:
        panel.override_by_name(column, [dm.DynamicConfigValue(id_val="noValue", value="0")])
    if transformations:
        panel.transformations(list(transformations))
    if sort_desc is not None:
        panel.sort_by([common_b.TableSortByFieldState().display_name(sort_desc).desc(True)])
    _common(panel, queries=queries, description=description, unit=unit, w=w, h=h)
    return panel


def geomap_panel(
    zh: str,
    en: str,
    *queries: Query,
    description: str,
    unit: str,
    thresholds: dashboard.ThresholdsConfig,
    w: int = 12,
    h: int = 12,
) -> geomap.Panel:
    """Markers at ``lat``/``lon`` columns, coloured by the ``speed`` column's thresholds.

    The view centres on Ningbo (三江口, where 海曙, 江北 and 鄞州 meet). Positions are WGS-84 as
    stored; the default OpenStreetMap basemap is WGS-84 too, so nothing is converted (an AMap
    basemap would need GCJ-02, see DOMAIN.md).
    """
    layer = (
        common_b.MapLayerOptions()
        .type("markers")
        .name("资产 Assets")
        .location(
            common_b.FrameGeometrySource()
            .mode(common.FrameGeometrySourceMode.COORDS)
            .latitude("lat")
            .longitude("lon")
        )
        .config(
            {
                "showLegend": True,
                "style": {"size": {"fixed": 5}, "color": {"field": "speed"}, "opacity": 0.8},
            }
        )
        .tooltip(True)
    )
    panel = (
        geomap.Panel()
        .title(title(zh, en))
        # The SDK types lat/lon as int (a generator slip); Grafana stores degrees as floats.
        .view(
            geomap.MapViewConfig()
            .id("coords")
            .lat(NINGBO_LAT)  # type: ignore[arg-type]
            .lon(NINGBO_LON)  # type: ignore[arg-type]
            .zoom(9)
        )
        .basemap(common_b.MapLayerOptions().type("default").name("Basemap"))
        .layers([layer])
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True))
        .tooltip(geomap.TooltipOptions().mode(geomap_m.TooltipMode.DETAILS))
        .thresholds(thresholds)
    )
    _common(panel, queries=queries, description=description, unit=unit, w=w, h=h)
    return panel
