"""无人店 / Unmanned stores: sales by payment method, visitors through the gates, basket size,
people inside, chiller temperatures and gate faults."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, SUCCESS, Board, new_dashboard, where
from dashboards.fields import steps
from dashboards.influxql import InfluxQL
from dashboards.labels import DIRECTION_NAMES, DISTRICT_NAMES, PAYMENT_NAMES
from dashboards.panels import bars, stat_panel, timeseries_panel

UID = "cityiot-store"
F = ("district", "vendor")
PER_MIN = "/ ($__interval_ms / 60000)"
# Chilled cabinets hold 2-6 °C; above 8 °C is warm (streams/alerts/default_rules.yaml).
CHILLER = steps((None, "blue"), (6, "green"), (8, "red"))
# Any faulty gate needs a technician.
FAULTS = steps((None, "green"), (1, "red"))


def build() -> dashboard.Dashboard:
    d = new_dashboard(
        UID,
        "无人店",
        "Unmanned stores",
        tags=["store"],
        variables=[v.datasource(), v.district(), v.vendor(chained_on=("district",))],
    )
    checkouts = f'FROM "store_checkout_1m" {where(*F)} AND {SUCCESS}'
    gates = f'FROM "store_gate_1m" {where(*F)}'
    telemetry = f'FROM "store_telemetry_1m" {where(*F)}'
    d.with_panel(
        stat_panel(
            "销售额",
            "Sales",
            InfluxQL(f'SELECT sum("amount_fen") / 100 AS "sales" {checkouts}'),
            description="Paid baskets over the selected range, yuan (after discounts).",
            unit="currencyCNY",
            decimals=2,
        )
    ).with_panel(
        stat_panel(
            "结账笔数",
            "Checkouts",
            InfluxQL(f'SELECT sum("count") AS "checkouts" {checkouts}'),
            description="Paid baskets over the selected range.",
            unit="short",
            decimals=0,
        )
    ).with_panel(
        stat_panel(
            "平均每单件数",
            "Basket size",
            InfluxQL(f'SELECT sum("items") / sum("count") AS "items" {checkouts}'),
            description="Items per paid basket (quantities summed over its lines).",
            unit="short",
            decimals=1,
        )
    ).with_panel(
        stat_panel(
            "进店人次",
            "Entries",
            InfluxQL(f'SELECT sum("count") AS "entries" {gates} AND "direction" = \'inbound\''),
            description="Visitors through the entry gates over the selected range.",
            unit="short",
            decimals=0,
        )
    ).with_panel(
        stat_panel(
            "最高冷柜温度",
            "Warmest chiller",
            InfluxQL(f'SELECT max("chilled_max_c_max") AS "max" {telemetry}'),
            description="Warmest chilled cabinet any store reported, °C (2-6 °C held, warm "
            "above 8 °C).",
            unit="celsius",
            decimals=1,
            thresholds=CHILLER,
        )
    ).with_panel(
        stat_panel(
            "闸门故障",
            "Gate faults",
            InfluxQL(f'SELECT max("gate_faults_max") AS "faults" {telemetry}'),
            description="Most faulty gates one store reported at once over the range (0: none).",
            unit="short",
            decimals=0,
            thresholds=FAULTS,
        )
    )
    d.with_panel(
        timeseries_panel(
            "各支付方式每分钟销售额",
            "Sales per minute by payment",
            InfluxQL(
                f'SELECT sum("amount_fen") / 100 {PER_MIN} {checkouts} '
                'GROUP BY time($__interval), "payment" fill(0)'
            ).alias("$tag_payment"),
            description="Yuan per minute by payment method (stacked): e-CNY beside the QR "
            "wallets and cards.",
            unit="currencyCNY",
            stack=True,
            names=PAYMENT_NAMES,
        )
    ).with_panel(
        timeseries_panel(
            "进出店人次",
            "Entries and exits",
            InfluxQL(
                f'SELECT sum("count") {gates} GROUP BY time($__interval), "direction" fill(0)'
            ).alias("$tag_direction"),
            description="Gate passes per interval, in and out: the evening peak after work.",
            unit="short",
            draw_bars=True,
            names=DIRECTION_NAMES,
        )
    )
    d.with_panel(
        bars(
            "各区销售额",
            "Sales by district",
            InfluxQL(
                f'SELECT sum("amount_fen") / 100 AS "sales" {checkouts} GROUP BY "district"'
            ).table(),
            description="Sales over the selected range per district, yuan.",
            unit="currencyCNY",
            x_field="district",
            mappings=DISTRICT_NAMES,
            w=8,
        )
    ).with_panel(
        timeseries_panel(
            "店内人数与每单件数",
            "People inside and basket size",
            InfluxQL(
                'SELECT sum("people_count_sum") / sum("people_count_count") AS "店内 inside" '
                f"{telemetry} GROUP BY time($__interval) fill(none)"
            ).ref_id("A"),
            InfluxQL(
                f'SELECT sum("items") / sum("count") AS "每单件数 items" {checkouts} '
                "GROUP BY time($__interval) fill(none)"
            ).ref_id("B"),
            description="Mean people inside a store (head count of its telemetry) and items "
            "per paid basket.",
            unit="short",
            w=8,
        )
    ).with_panel(
        timeseries_panel(
            "冷柜温度",
            "Chiller temperature",
            InfluxQL(
                'SELECT max("chilled_max_c_max") AS "最高 max", sum("chilled_max_c_sum") / '
                f'sum("chilled_max_c_count") AS "平均 mean" {telemetry} '
                "GROUP BY time($__interval) fill(none)"
            ),
            description="Warmest chilled cabinet of any store and the mean of the stores' "
            "warmest ones, °C; the red line is 8 °C.",
            unit="celsius",
            thresholds=CHILLER,
            w=8,
        )
    )
    return d


BOARD = Board(UID, FOLDERS["operations"], build)
