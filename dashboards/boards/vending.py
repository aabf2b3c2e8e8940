"""售货机 / Vending: sales, payment methods and machine state (temperature, stock)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, SUCCESS, Board, new_dashboard, where
from dashboards.fields import steps
from dashboards.influxql import InfluxQL
from dashboards.labels import DISTRICT_NAMES, PAYMENT_NAMES
from dashboards.panels import bars, stat_panel, timeseries_panel

UID = "cityiot-vending"
F = ("district", "vendor")
PER_MIN = "/ ($__interval_ms / 60000)"
# A chilled compartment is set to 4-8 °C; above 10 °C for long is EVA-DTS event EJH (DOMAIN.md).
TEMPERATURE = steps((None, "blue"), (8, "green"), (10, "red"))
STOCK = steps((None, "red"), (20, "orange"), (40, "green"))


def build() -> dashboard.Dashboard:
    d = new_dashboard(
        UID,
        "售货机",
        "Vending",
        tags=["vending"],
        variables=[v.datasource(), v.district(), v.vendor(chained_on=("district",))],
    )
    sales = f'FROM "vending_sale_1m" {where(*F)} AND {SUCCESS}'
    telemetry = f'FROM "vending_telemetry_1m" {where(*F)}'
    d.with_panel(
        stat_panel(
            "销售额",
            "Sales",
            InfluxQL(f'SELECT sum("amount_fen") / 100 AS "sales" {sales}'),
            description="Successful sales over the selected range, yuan.",
            unit="currencyCNY",
            decimals=2,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "交易笔数",
            "Transactions",
            InfluxQL(f'SELECT sum("count") AS "transactions" {sales}'),
            description="Successful transactions over the selected range.",
            unit="short",
            decimals=0,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "客单价",
            "Average ticket",
            InfluxQL(f'SELECT sum("amount_fen") / sum("count") / 100 AS "ticket" {sales}'),
            description="Sales divided by transactions, yuan per transaction.",
            unit="currencyCNY",
            decimals=2,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "最高柜温",
            "Warmest compartment",
            InfluxQL(f'SELECT max("temperature_c_max") AS "max" {telemetry}'),
            description="Highest compartment temperature any machine reported, °C "
            "(alarm above 10 °C).",
            unit="celsius",
            decimals=1,
            thresholds=TEMPERATURE,
            w=6,
        )
    )
    d.with_panel(
        timeseries_panel(
            "各区每分钟销售额",
            "Sales per minute by district",
            InfluxQL(
                f'SELECT sum("amount_fen") / 100 {PER_MIN} {sales} '
                'GROUP BY time($__interval), "district" fill(0)'
            ).alias("$tag_district"),
            description="Yuan per minute, one line per district.",
            unit="currencyCNY",
            names=DISTRICT_NAMES,
        )
    ).with_panel(
        timeseries_panel(
            "支付方式趋势",
            "Payment methods over time",
            InfluxQL(
                f'SELECT sum("count") {sales} GROUP BY time($__interval), "payment" fill(0)'
            ).alias("$tag_payment"),
            description="Transactions per interval by payment method (stacked).",
            unit="short",
            stack=True,
            draw_bars=True,
            names=PAYMENT_NAMES,
        )
    )
    d.with_panel(
        bars(
            "各区销售额",
            "Sales by district",
            InfluxQL(
                f'SELECT sum("amount_fen") / 100 AS "sales" {sales} GROUP BY "district"'
            ).table(),
            description="Sales over the selected range per district, yuan.",
            unit="currencyCNY",
            x_field="district",
            mappings=DISTRICT_NAMES,
            w=8,
        )
    ).with_panel(
        timeseries_panel(
            "柜内温度",
            "Compartment temperature",
            InfluxQL(
                'SELECT max("temperature_c_max") AS "最高 max", sum("temperature_c_sum") / '
                f'sum("temperature_c_count") AS "平均 mean" {telemetry} '
                "GROUP BY time($__interval) fill(none)"
            ),
            description="Warmest machine and fleet mean of every reading (sum / count of the "
            "roll-ups), °C; the red line is the 10 °C alarm.",
            unit="celsius",
            thresholds=TEMPERATURE,
            w=8,
        )
    ).with_panel(
        timeseries_panel(
            "库存水平",
            "Stock level",
            InfluxQL(
                'SELECT min("stock_pct_min") AS "最低 min", sum("stock_pct_sum") / '
                f'sum("stock_pct_count") AS "平均 mean" {telemetry} '
                "GROUP BY time($__interval) fill(none)"
            ),
            description="Emptiest machine and fleet mean, % of capacity (restock below 20 %).",
            unit="percent",
            thresholds=STOCK,
            w=8,
        )
    )
    return d


BOARD = Board(UID, FOLDERS["operations"], build)
