"""公共交通 / Transit: one card, one code: taps and fares by mode, line and district, transfers,
taps captured offline, payment mix of fares and validators online."""

# ruff: noqa: S608 -- InfluxQL built from this module's constants; no outside input reaches it.

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, HEALTH_TICK, Board, new_dashboard, where
from dashboards.influxql import InfluxQL
from dashboards.labels import DISTRICT_NAMES, PAYMENT_NAMES, TAP_NAMES, TRANSIT_MODE_NAMES
from dashboards.panels import bars, pie, stat_panel, timeseries_panel

UID = "cityiot-transit"
F = ("district", "vendor")
TODAY = "now/d"
PER_MIN = "/ ($__interval_ms / 60000)"
TRANSIT = "\"facility\" = 'transit'"


def build() -> dashboard.Dashboard:
    d = new_dashboard(
        UID,
        "公共交通 一卡通行 一码通行",
        "Transit one card, one code",
        tags=["transit"],
        variables=[v.datasource(), v.district(), v.vendor(chained_on=("district",))],
    )
    taps = f'FROM "transit_tap_1m" {where(*F)}'
    d.with_panel(
        stat_panel(
            "今日刷卡次数",
            "Taps today",
            InfluxQL(f'SELECT sum("count") AS "taps" {taps}'),
            description="Taps at every validator since local midnight (in, out and single).",
            unit="short",
            decimals=0,
            time_from=TODAY,
        )
    ).with_panel(
        stat_panel(
            "今日票款",
            "Fares today",
            InfluxQL(f'SELECT sum("fare_fen") / 100 AS "fares" {taps}'),
            description="Fares charged since local midnight, yuan (at tap out on metro and "
            "bikes, at the single tap on flat-fare buses).",
            unit="currencyCNY",
            decimals=2,
            time_from=TODAY,
        )
    ).with_panel(
        stat_panel(
            "换乘优惠",
            "Transfers",
            InfluxQL(f'SELECT sum("transfers") AS "transfers" {taps}'),
            description="Taps that charged a transfer-discounted fare over the selected range.",
            unit="short",
            decimals=0,
        )
    ).with_panel(
        stat_panel(
            "离线补传",
            "Uploaded late",
            InfluxQL(f'SELECT sum("offline") AS "offline" {taps}'),
            description="Taps a validator captured while offline (a bus in a dead zone) and "
            "uploaded later with their own time.",
            unit="short",
            decimals=0,
        )
    ).with_panel(
        stat_panel(
            "在线验票机",
            "Validators online",
            InfluxQL(
                'SELECT sum("online") AS "online" FROM "devices_online" '
                f"{where('district')} AND {TRANSIT} GROUP BY time({HEALTH_TICK}) fill(none)"
            ),
            description="Validators online at the latest health check (streams, every 30 s).",
            unit="short",
            decimals=0,
        )
    ).with_panel(
        stat_panel(
            "线路数",
            "Lines with taps",
            InfluxQL(
                f'SELECT count("fares") AS "lines" FROM (SELECT sum("count") AS "fares" '
                f'{taps} GROUP BY "line") WHERE $timeFilter'
            ),
            description="Lines (metro, bus, public-bike networks) with at least one tap over "
            "the selected range.",
            unit="short",
            decimals=0,
        )
    )
    d.with_panel(
        timeseries_panel(
            "各方式每分钟刷卡",
            "Taps per minute by mode",
            InfluxQL(
                f'SELECT sum("count") {PER_MIN} {taps} GROUP BY time($__interval), "mode" fill(0)'
            ).alias("$tag_mode"),
            description="Taps per minute at metro gates, on buses and at bike docks (stacked): "
            "the morning and evening commuter peaks.",
            unit="short",
            stack=True,
            names=TRANSIT_MODE_NAMES,
        )
    ).with_panel(
        timeseries_panel(
            "进出站刷卡",
            "Taps in and out",
            InfluxQL(f'SELECT sum("count") {taps} GROUP BY time($__interval), "tap" fill(0)').alias(
                "$tag_tap"
            ),
            description="Taps per interval by kind: in, out, and single taps of flat-fare rides.",
            unit="short",
            draw_bars=True,
            names=TAP_NAMES,
        )
    )
    d.with_panel(
        bars(
            "各线路票款",
            "Fares by line",
            InfluxQL(f'SELECT sum("fare_fen") / 100 AS "fares" {taps} GROUP BY "line"').table(),
            description="Fares over the selected range per line, yuan.",
            unit="currencyCNY",
            x_field="line",
            w=8,
        )
    ).with_panel(
        bars(
            "各区刷卡次数",
            "Taps by district",
            InfluxQL(f'SELECT sum("count") AS "taps" {taps} GROUP BY "district"').table(),
            description="Taps over the selected range per district (where the validator stands "
            "or, for a bus, its depot's district).",
            unit="short",
            x_field="district",
            mappings=DISTRICT_NAMES,
            w=8,
        )
    ).with_panel(
        pie(
            "票款支付方式",
            "Fares by payment",
            InfluxQL(
                f'SELECT sum("amount_fen") / 100 FROM "consumption_1m" {where(*F)} '
                f'AND {TRANSIT} GROUP BY "payment"'
            ).alias("$tag_payment"),
            description="Fares (yuan) by how they cleared: transit cards, ride codes of each "
            "wallet, UnionPay, e-CNY.",
            unit="currencyCNY",
            names=PAYMENT_NAMES,
            w=8,
        )
    )
    return d


BOARD = Board(UID, FOLDERS["operations"], build)
