"""移动资产 / Mobility: where the BeiDou-positioned bikes, buses and delivery vehicles are."""

# ruff: noqa: S608 -- InfluxQL built from this module's constants; no outside input reaches it.

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import GridPos

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, Board, new_dashboard, where
from dashboards.fields import steps
from dashboards.influxql import InfluxQL
from dashboards.labels import DISTRICT_NAMES
from dashboards.panels import bars, geomap_panel, stat_panel, timeseries_panel

UID = "cityiot-mobility"
F = ("district", "vendor")
ASSET_NAMES = {
    "bike": "单车 Bike",
    "ebike": "电单车 E-bike",
    "bus": "公交 Bus",
    "delivery_vehicle": "无人配送车 Delivery vehicle",
}
# E-bikes are capped at 25 km/h (GB 17761-2018); buses run at 50-60 km/h at most.
SPEED = steps((None, "green"), (25, "orange"), (60, "red"))
# Positions of the last 15 minutes: a parked asset reports every 60-300 s, so each is on the map.
MAP_WINDOW = "15m"
# Per-minute averages from sums over wider buckets (any zoom level).
PER_MIN = "/ ($__interval_ms / 60000)"
IN_USE = "\"state\" = 'in_use'"


def build() -> dashboard.Dashboard:
    d = new_dashboard(
        UID,
        "移动资产",
        "Mobility",
        tags=["mobility"],
        variables=[v.datasource(), v.district(), v.vendor(chained_on=("district",))],
    )
    rollup = f'FROM "mobility_position_1m" {where(*F)}'
    # One point per asset and minute in which it reported a position: counting them counts
    # distinct assets exactly (the group roll-up's "devices" is split by state and partition).
    per_asset = f'FROM "mobility_position_device_1m" {where(*F)}'
    # The map is tall: the panels beside it get explicit positions (the SDK lays out rows only).
    d.with_panel(
        geomap_panel(
            "资产位置",
            "Asset positions",
            InfluxQL(
                'SELECT last("lat") AS "lat", last("lon") AS "lon", last("speed_kmh") AS '
                f'"speed" FROM "mobility_position" {where(*F)} GROUP BY "device", "asset_type"'
            ).table(),
            description="Last WGS-84 position of every asset in the last 15 minutes, coloured "
            "by speed (km/h).",
            unit="velocitykmh",
            thresholds=SPEED,
            w=14,
            h=14,
        ).time_from(MAP_WINDOW)
    ).with_panel(
        stat_panel(
            "活跃资产",
            "Active assets",
            InfluxQL(f'SELECT count("count") AS "assets" {per_asset} GROUP BY time(1m) fill(none)'),
            description="Assets that reported a position in the latest minute.",
            unit="short",
            decimals=0,
        ).grid_pos(GridPos(x=14, y=0, w=5, h=4))
    ).with_panel(
        stat_panel(
            "使用中",
            "In use",
            InfluxQL(
                f'SELECT sum("devices") AS "in use" {rollup} AND {IN_USE} '
                "GROUP BY time(1m) fill(none)"
            ),
            description="Assets whose position in the latest minute said they are in use "
            "(ridden, driving a route).",
            unit="short",
            decimals=0,
        ).grid_pos(GridPos(x=19, y=0, w=5, h=4))
    ).with_panel(
        bars(
            "各区资产数",
            "Assets per district",
            InfluxQL(
                f'SELECT count("count") AS "assets" {per_asset} '
                'GROUP BY time(1m), "district" fill(none)'
            ).table(),
            description="Assets that reported a position in the latest minute, per district.",
            unit="short",
            x_field="district",
            mappings=DISTRICT_NAMES,
            latest=("assets",),
        ).grid_pos(GridPos(x=14, y=4, w=10, h=10))
    )
    d.with_panel(
        timeseries_panel(
            "平均速度",
            "Mean speed by asset type",
            InfluxQL(
                f'SELECT sum("speed_kmh_sum") / sum("speed_kmh_count") {rollup} '
                'GROUP BY time($__interval), "asset_type" fill(none)'
            ).alias("$tag_asset_type"),
            description="Mean reported speed, km/h, per asset type (parked assets count as 0).",
            unit="velocitykmh",
            names=ASSET_NAMES,
            thresholds=SPEED,
        ).grid_pos(GridPos(x=0, y=14, w=12, h=8))
    ).with_panel(
        timeseries_panel(
            "使用中资产趋势",
            "Assets in use over time",
            InfluxQL(
                f'SELECT sum("devices") {PER_MIN} {rollup} AND {IN_USE} '
                'GROUP BY time($__interval), "asset_type" fill(0)'
            ).alias("$tag_asset_type"),
            description='Assets reporting "in use" per minute (averaged over the interval), '
            "per asset type (stacked).",
            unit="short",
            stack=True,
            draw_bars=True,
            names=ASSET_NAMES,
        ).grid_pos(GridPos(x=12, y=14, w=12, h=8))
    )
    return d


BOARD = Board(UID, FOLDERS["operations"], build)
