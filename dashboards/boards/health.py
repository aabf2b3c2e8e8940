"""设备健康 / Device health: who is online, who went silent, what the devices lose or break."""

# ruff: noqa: S608 -- InfluxQL built from this module's constants; no outside input reaches it.

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, Board, new_dashboard, where
from dashboards.influxql import InfluxQL
from dashboards.panels import (
    DISTRICT_NAMES,
    FACILITY_NAMES,
    stat_panel,
    steps,
    table_panel,
    timeseries_panel,
)

UID = "cityiot-health"
F = ("district", "facility")
# The longest normal gap is 600 s (registry expected_interval_s): 2x that is silent for sure.
SILENT = steps((None, "green"), (600, "orange"), (1200, "red"))
SILENT_WINDOW = "10m"


def build() -> dashboard.Dashboard:
    d = new_dashboard(
        UID,
        "设备健康",
        "Device health",
        tags=["health"],
        variables=[v.datasource(), v.district(), v.facility(), v.vendor()],
    )
    online = f'FROM "device_online" {where(*F)}'
    per_device = f'FROM "device_health" {where(*F, "vendor")}'
    d.with_panel(
        stat_panel(
            "在线",
            "Online",
            InfluxQL(f'SELECT sum("online") AS "online" {online} GROUP BY time(1m) fill(none)'),
            description="Devices online in the latest minute.",
            unit="short",
            decimals=0,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "离线",
            "Offline",
            InfluxQL(f'SELECT sum("offline") AS "offline" {online} GROUP BY time(1m) fill(none)'),
            description="Registered devices offline in the latest minute (silent or last will).",
            unit="short",
            decimals=0,
            thresholds=steps((None, "green"), (1, "orange")),
            w=6,
        )
    ).with_panel(
        stat_panel(
            "序号缺口",
            "Sequence gaps",
            InfluxQL(f'SELECT sum("seq_gaps") AS "gaps" {per_device}'),
            description="Messages lost at the source: gaps in devices' seq counters over the "
            "range.",
            unit="short",
            decimals=0,
            thresholds=steps((None, "green"), (1, "orange")),
            w=6,
        )
    ).with_panel(
        stat_panel(
            "死信",
            "Dead letters",
            InfluxQL(f'SELECT sum("count") AS "deadletters" FROM "platform_deadletters" {where()}'),
            description="Device messages rejected by the collectors over the range.",
            unit="short",
            decimals=0,
            thresholds=steps((None, "green"), (1, "orange")),
            w=6,
        )
    )
    d.with_panel(
        timeseries_panel(
            "在线设备（按设施）",
            "Online by facility",
            InfluxQL(
                f'SELECT sum("online") {online} GROUP BY time($__interval), "facility" fill(none)'
            ).alias("$tag_facility"),
            description="Devices online, per facility.",
            unit="short",
            names=FACILITY_NAMES,
        )
    ).with_panel(
        timeseries_panel(
            "离线设备（按区县）",
            "Offline by district",
            InfluxQL(
                f'SELECT sum("offline") {online} GROUP BY time($__interval), "district" fill(none)'
            ).alias("$tag_district"),
            description="Registered devices offline, per district.",
            unit="short",
            names=DISTRICT_NAMES,
        )
    )
    d.with_panel(
        table_panel(
            "静默设备",
            "Silent devices",
            InfluxQL(
                f'SELECT last("age_s") AS "age_s" {per_device} AND "online" = 0 '
                'GROUP BY "device", "facility", "vendor", "district"'
            ).table(),
            description="Devices reported offline in the last 10 minutes, with the seconds "
            "since their last message.",
            unit="s",
            mappings=DISTRICT_NAMES,
            thresholds=SILENT,
            w=12,
            h=9,
        ).time_from(SILENT_WINDOW)
    ).with_panel(
        timeseries_panel(
            "死信原因",
            "Dead letters by reason",
            InfluxQL(
                'SELECT sum("count") FROM "platform_deadletters" WHERE $timeFilter '
                'GROUP BY time($__interval), "reason" fill(0)'
            ).alias("$tag_reason"),
            description="Rejected device messages per interval by reason code (bad_json, "
            "invalid_field, stale_timestamp, ...).",
            unit="short",
            stack=True,
            draw_bars=True,
            w=12,
            h=9,
        )
    )
    d.with_panel(
        table_panel(
            "告警状态",
            "Alert states",
            InfluxQL(
                'SELECT last("firing") AS "firing", last("device_id") AS "device", '
                f'last("value") AS "value" FROM "alerts" {where(*F)} '
                'GROUP BY "severity", "rule", "district", "fingerprint"'
            ).table(),
            description="Each alert's latest change in the range: firing or resolved, with "
            "the device and the observed value (streams/alerts).",
            unit="none",
            mappings=DISTRICT_NAMES,
            column_mappings={"firing": {"1": "触发 firing", "0": "已恢复 resolved"}},
            w=24,
            h=8,
        )
    )
    return d


BOARD = Board(UID, FOLDERS["platform"], build)
