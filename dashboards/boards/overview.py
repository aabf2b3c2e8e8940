"""信息消费总览 / Information consumption: the city at a glance for the operations centre.

Vending sales, recycling and device counts, and the city's consumption across every paying
facility (vending machines, unmanned stores, transit fares) from ``consumption_1m``: by payment
method, its e-CNY share, by facility and by district.
"""

# ruff: noqa: S608 -- InfluxQL built from this module's constants; no outside input reaches it.

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, HEALTH_TICK, SUCCESS, Board, new_dashboard, where
from dashboards.fields import math, steps
from dashboards.influxql import InfluxQL
from dashboards.labels import (
    CATEGORY_COLORS,
    CATEGORY_NAMES,
    DISTRICT_NAMES,
    FACILITY_NAMES,
    PAYMENT_NAMES,
)
from dashboards.panels import bars, pie, stat_panel, timeseries_panel

UID = "cityiot-overview"
TODAY = "now/d"
# "Mobile payment" = QR and NFC wallets; e-CNY is reported on its own as policy tracks it apart.
MOBILE = "wechat|alipay|unionpay"
F = ("district", "vendor")  # every roll-up carries both tags
PER_MIN = "/ ($__interval_ms / 60000)"  # sum per interval → per minute, at any zoom level


def build() -> dashboard.Dashboard:
    d = new_dashboard(
        UID,
        "信息消费总览",
        "Information consumption",
        tags=["overview"],
        variables=[v.datasource(), v.district(), v.facility(), v.vendor()],
    )
    sales = f'FROM "vending_sale_1m" {where(*F)} AND {SUCCESS}'
    d.with_panel(
        stat_panel(
            "今日销售额",
            "Sales today",
            InfluxQL(f'SELECT sum("amount_fen") / 100 AS "sales" {sales}'),
            description="Successful vending sales since local midnight, yuan (stored in fen).",
            unit="currencyCNY",
            decimals=2,
            time_from=TODAY,
        )
    ).with_panel(
        stat_panel(
            "今日交易笔数",
            "Transactions today",
            InfluxQL(f'SELECT sum("count") AS "transactions" {sales}'),
            description="Successful vending transactions since local midnight.",
            unit="short",
            decimals=0,
            time_from=TODAY,
        )
    ).with_panel(
        stat_panel(
            "移动支付与数字人民币占比",
            "Mobile pay and e-CNY share",
            InfluxQL(f'SELECT sum("amount_fen") {sales} AND "payment" =~ /^({MOBILE})$/')
            .ref_id("A")
            .hide(),
            InfluxQL(f'SELECT sum("amount_fen") {sales}').ref_id("B").hide(),
            InfluxQL(f'SELECT sum("amount_fen") {sales} AND "payment" = \'ecny\'')
            .ref_id("C")
            .hide(),
            math("移动支付 Mobile", "$A / $B * 100"),
            math("数字人民币 e-CNY", "$C / $B * 100"),
            description="Share of sales (yuan) paid by WeChat Pay, Alipay or UnionPay, and by "
            "e-CNY, over the selected range. Computed in Grafana from the sums.",
            unit="percent",
            decimals=1,
            w=4,
        )
    ).with_panel(
        stat_panel(
            "今日回收量",
            "Recycled today",
            InfluxQL(
                f'SELECT sum("weight_g") / 1000 AS "weight" FROM "recycling_dropoff_1m" {where(*F)}'
            ),
            description="Weighed drop-offs at recycling stations since local midnight, kg "
            "(summed as integer grams, so the total is exact).",
            unit="masskg",
            decimals=1,
            time_from=TODAY,
        )
    ).with_panel(
        stat_panel(
            "在线设备",
            "Devices online",
            InfluxQL(
                'SELECT sum("online") AS "online" FROM "devices_online" '
                f"{where('district', 'facility')} GROUP BY time({HEALTH_TICK}) fill(none)"
            ),
            description="Devices online at the latest health check (streams, every 30 s): "
            "heard from within three expected intervals and no offline last will.",
            unit="short",
            decimals=0,
        )
    ).with_panel(
        stat_panel(
            "告警触发",
            "Alerts fired",
            InfluxQL(
                f'SELECT sum("firing") AS "fired" FROM "alerts" {where("district", "facility")}'
            ),
            description="Alerts that started firing in the selected range (all severities).",
            unit="short",
            decimals=0,
            thresholds=steps((None, "green"), (1, "orange"), (10, "red")),
        )
    )
    d.with_panel(
        timeseries_panel(
            "每分钟销售额",
            "Sales per minute",
            InfluxQL(
                f'SELECT sum("amount_fen") / 100 {PER_MIN} AS "sales" {sales} '
                "GROUP BY time($__interval) fill(0)"
            ),
            description="Vending sales, yuan per minute (averaged over the interval).",
            unit="currencyCNY",
            w=8,
        )
    ).with_panel(
        timeseries_panel(
            "每分钟交易笔数",
            "Transactions per minute",
            InfluxQL(
                f'SELECT sum("count") {PER_MIN} AS "transactions" {sales} '
                "GROUP BY time($__interval) fill(0)"
            ),
            description="Vending transactions per minute (averaged over the interval).",
            unit="short",
            w=8,
        )
    ).with_panel(
        pie(
            "支付方式",
            "Payment mix",
            InfluxQL(f'SELECT sum("amount_fen") / 100 {sales} GROUP BY "payment"').alias(
                "$tag_payment"
            ),
            description="Sales (yuan) by payment method over the selected range.",
            unit="currencyCNY",
            names=PAYMENT_NAMES,
            w=8,
        )
    )
    d.with_panel(
        timeseries_panel(
            "分类回收量",
            "Recycling by category",
            InfluxQL(
                'SELECT sum("weight_kg") FROM "recycling_dropoff_1m" '
                f'{where(*F)} GROUP BY time($__interval), "category" fill(0)'
            ).alias("$tag_category"),
            description="Weighed drop-offs per interval, kg, by Ningbo's four statutory "
            "categories (bin colours).",
            unit="masskg",
            stack=True,
            draw_bars=True,
            names=CATEGORY_NAMES,
            colors=CATEGORY_COLORS,
        )
    ).with_panel(
        bars(
            "各区在线与已知设备",
            "Online vs known devices by district",
            InfluxQL(
                'SELECT sum("online") AS "online", sum("total") AS "known" '
                f'FROM "devices_online" {where("district", "facility")} '
                f'GROUP BY time({HEALTH_TICK}), "district" fill(none)'
            ).table(),
            description="Per district at the latest health check: devices online next to "
            "devices the platform has heard from at least once (not the registry).",
            unit="short",
            x_field="district",
            mappings=DISTRICT_NAMES,
            latest=("online", "known"),
        )
    )
    _consumption(d)
    return d


def _consumption(d: dashboard.Dashboard) -> None:
    """The city's consumption across facilities (streams' ``consumption_1m``): what was paid at
    vending machines, unmanned stores and transit validators, by payment method."""
    paid = f'FROM "consumption_1m" {where("district", "facility", "vendor")}'
    d.with_panel(
        stat_panel(
            "今日信息消费",
            "Consumption today",
            InfluxQL(f'SELECT sum("amount_fen") / 100 AS "consumption" {paid}'),
            description="Paid since local midnight at vending machines, unmanned stores and "
            "transit validators (successful sales and checkouts, fares charged), yuan.",
            unit="currencyCNY",
            decimals=2,
            time_from=TODAY,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "今日消费笔数",
            "Payments today",
            InfluxQL(f'SELECT sum("count") AS "payments" {paid}'),
            description="Payments since local midnight across the three paying facilities.",
            unit="short",
            decimals=0,
            time_from=TODAY,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "全市数字人民币占比",
            "e-CNY share, all facilities",
            InfluxQL(f'SELECT sum("amount_fen") {paid} AND "payment" = \'ecny\'')
            .ref_id("A")
            .hide(),
            InfluxQL(f'SELECT sum("amount_fen") {paid}').ref_id("B").hide(),
            math("数字人民币 e-CNY", "$A / $B * 100"),
            description="Share of the city's consumption (yuan) paid in e-CNY, over the "
            "selected range: vending, stores and transit together.",
            unit="percent",
            decimals=1,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "全市移动支付占比",
            "Mobile pay share, all facilities",
            InfluxQL(f'SELECT sum("amount_fen") {paid} AND "payment" =~ /^({MOBILE})$/')
            .ref_id("A")
            .hide(),
            InfluxQL(f'SELECT sum("amount_fen") {paid}').ref_id("B").hide(),
            math("移动支付 Mobile", "$A / $B * 100"),
            description="Share of the city's consumption (yuan) paid by WeChat Pay, Alipay or "
            "UnionPay, over the selected range.",
            unit="percent",
            decimals=1,
            w=6,
        )
    )
    d.with_panel(
        timeseries_panel(
            "各设施每分钟消费",
            "Consumption per minute by facility",
            InfluxQL(
                f'SELECT sum("amount_fen") / 100 {PER_MIN} {paid} '
                'GROUP BY time($__interval), "facility" fill(0)'
            ).alias("$tag_facility"),
            description="Yuan per minute at vending machines, unmanned stores and transit "
            "validators (stacked).",
            unit="currencyCNY",
            stack=True,
            names=FACILITY_NAMES,
            w=8,
        )
    ).with_panel(
        pie(
            "消费支付方式",
            "Consumption by payment",
            InfluxQL(f'SELECT sum("amount_fen") / 100 {paid} GROUP BY "payment"').alias(
                "$tag_payment"
            ),
            description="The city's consumption (yuan) by payment method over the selected "
            "range, every paying facility together.",
            unit="currencyCNY",
            names=PAYMENT_NAMES,
            w=8,
        )
    ).with_panel(
        bars(
            "各区消费",
            "Consumption by district",
            InfluxQL(
                f'SELECT sum("amount_fen") / 100 AS "consumption" {paid} GROUP BY "district"'
            ).table(),
            description="The city's consumption over the selected range per district, yuan.",
            unit="currencyCNY",
            x_field="district",
            mappings=DISTRICT_NAMES,
            w=8,
        )
    )


BOARD = Board(UID, FOLDERS["operations"], build)
