"""回收站 / Recycling: weighed drop-offs by category, payouts, bin fill levels and safety."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, Board, new_dashboard, where
from dashboards.fields import steps
from dashboards.influxql import InfluxQL
from dashboards.labels import CATEGORY_COLORS, CATEGORY_NAMES, DISTRICT_NAMES
from dashboards.panels import bars, pie, stat_panel, timeseries_panel

UID = "cityiot-recycling"
F = ("district", "vendor")
TODAY = "now/d"
# Stations raise a full alarm at 80-90 % (DOMAIN.md, binFullnessThreshold).
FILL = steps((None, "green"), (80, "orange"), (90, "red"))


def build() -> dashboard.Dashboard:
    d = new_dashboard(
        UID,
        "回收站",
        "Recycling",
        tags=["recycling"],
        variables=[v.datasource(), v.district(), v.vendor(chained_on=("district",))],
    )
    drops = f'FROM "recycling_dropoff_1m" {where(*F)}'
    telemetry = f'FROM "recycling_telemetry_1m" {where(*F)}'
    # Per-bin fill levels and the smoke flag are only in the raw points (one per station report).
    raw = f'FROM "recycling_telemetry" {where(*F)}'
    d.with_panel(
        stat_panel(
            "今日回收量",
            "Recycled today",
            InfluxQL(f'SELECT sum("weight_g") / 1000 AS "weight" {drops}'),
            description="Weighed drop-offs since local midnight, kg (summed as integer grams, "
            "so the total is exact).",
            unit="masskg",
            decimals=1,
            time_from=TODAY,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "今日投递次数",
            "Drop-offs today",
            InfluxQL(f'SELECT sum("count") AS "dropoffs" {drops}'),
            description="Drop-offs since local midnight.",
            unit="short",
            decimals=0,
            time_from=TODAY,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "今日返现",
            "Paid out today",
            InfluxQL(f'SELECT sum("payout_fen") / 100 AS "payout" {drops}'),
            description="Cash credited to residents since local midnight, yuan.",
            unit="currencyCNY",
            decimals=2,
            time_from=TODAY,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "最满箱体",
            "Fullest bin",
            InfluxQL(f'SELECT max("fill_max_pct_max") AS "fill" {telemetry}'),
            description="Highest fill level any bin reported, % (full alarm at 80-90 %).",
            unit="percent",
            decimals=0,
            thresholds=FILL,
            w=6,
        )
    )
    d.with_panel(
        timeseries_panel(
            "分类回收量",
            "Weight by category",
            InfluxQL(
                f'SELECT sum("weight_kg") {drops} GROUP BY time($__interval), "category" fill(0)'
            ).alias("$tag_category"),
            description="Weighed drop-offs per interval, kg, in the bin colours.",
            unit="masskg",
            stack=True,
            draw_bars=True,
            names=CATEGORY_NAMES,
            colors=CATEGORY_COLORS,
            w=16,
        )
    ).with_panel(
        pie(
            "分类占比",
            "Category share",
            InfluxQL(f'SELECT sum("weight_kg") {drops} GROUP BY "category"').alias("$tag_category"),
            description="Share of weight per category over the selected range.",
            unit="masskg",
            names=CATEGORY_NAMES,
            w=8,
        )
    )
    d.with_panel(
        bars(
            "各区回收量",
            "Weight by district",
            InfluxQL(f'SELECT sum("weight_kg") AS "weight" {drops} GROUP BY "district"').table(),
            description="Weighed drop-offs over the selected range per district, kg.",
            unit="masskg",
            x_field="district",
            mappings=DISTRICT_NAMES,
            w=8,
        )
    ).with_panel(
        timeseries_panel(
            "箱体满溢度",
            "Bin fill level",
            InfluxQL(
                "SELECT "
                + ", ".join(f'max("fill_{c}_pct") AS "{c}"' for c in CATEGORY_NAMES)
                + f" {raw} GROUP BY time($__interval) fill(none)"
            ).alias("$col"),
            description="Fullest bin per category, % (raw station reports); orange and red "
            "lines are the full alarms.",
            unit="percent",
            names=CATEGORY_NAMES,
            colors=CATEGORY_COLORS,
            thresholds=FILL,
            w=8,
        )
    ).with_panel(
        timeseries_panel(
            "烟雾告警",
            "Smoke alarms",
            InfluxQL(
                f'SELECT count("smoke_alarm") AS "smoke" {raw} AND "smoke_alarm" = true '
                "GROUP BY time($__interval) fill(0)"
            ),
            description="Station reports with the smoke alarm set, per interval (raw points). "
            "No data means no station reported smoke in the range.",
            unit="short",
            draw_bars=True,
            thresholds=steps((None, "green"), (1, "red")),
            w=8,
        )
    )
    return d


BOARD = Board(UID, FOLDERS["operations"], build)
