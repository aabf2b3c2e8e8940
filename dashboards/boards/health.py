"""设备健康 / Device health: who is online, who went silent, what the devices lose or break."""

# ruff: noqa: S608 -- InfluxQL built from this module's constants; no outside input reaches it.

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, HEALTH_TICK, Board, new_dashboard, where
from dashboards.fields import steps
from dashboards.influxql import InfluxQL
from dashboards.labels import DISTRICT_NAMES, FACILITY_NAMES
from dashboards.panels import stat_panel, table_panel, timeseries_panel

UID = "cityiot-health"
F = ("district", "facility")
# The longest normal gap is 600 s (registry expected_interval_s): 2x that is silent for sure.
SILENT = steps((None, "green"), (600, "orange"), (1200, "red"))
# Two health ticks: a device offline now is in it, one back online drops out within a minute.
SILENT_WINDOW = "1m"


def build() -> dashboard.Dashboard:
    d = new_dashboard(
        UID,
        "设备健康",
        "Device health",
        tags=["health"],
        variables=[v.datasource(), v.district(), v.facility(), v.vendor()],
    )
    online = f'FROM "devices_online" {where(*F)}'
    per_device = f'FROM "device_health" {where(*F, "vendor")}'
    # Dead letters carry facility and vendor (when the topic told them), not the district.
    dead = f'FROM "deadletters" {where("facility", "vendor")}'
    tick = f"GROUP BY time({HEALTH_TICK})"
    d.with_panel(
        stat_panel(
            "在线",
            "Online",
            InfluxQL(f'SELECT sum("online") AS "online" {online} {tick} fill(none)'),
            description="Devices online at the latest health check (streams, every 30 s).",
            unit="short",
            decimals=0,
            w=6,
        )
    ).with_panel(
        stat_panel(
            "离线",
            "Offline",
            InfluxQL(f'SELECT sum("offline") AS "offline" {online} {tick} fill(none)'),
            description="Known devices offline at the latest health check: silent for three "
            "expected intervals, or their last will said so.",
            unit="short",
            decimals=0,
            thresholds=steps((None, "green"), (1, "orange")),
            w=6,
        )
    ).with_panel(
        stat_panel(
            "序号缺口",
            "Sequence gaps",
            InfluxQL(f'SELECT sum("seq_gaps") AS "gaps" {per_device} {tick} fill(none)'),
            description="Messages lost at the source: seqs still missing in the devices' "
            "counters at the latest health check (all devices, since first seen).",
            unit="short",
            decimals=0,
            thresholds=steps((None, "green"), (1, "orange")),
            w=6,
        )
    ).with_panel(
        stat_panel(
            "死信",
            "Dead letters",
            InfluxQL(f'SELECT sum("count") AS "deadletters" {dead}'),
            description="Messages rejected over the range: device messages by the collectors, "
            "records by streams.",
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
            InfluxQL(f'SELECT sum("online") {online} {tick}, "facility" fill(none)').alias(
                "$tag_facility"
            ),
            description="Devices online at each health check, per facility.",
            unit="short",
            names=FACILITY_NAMES,
        )
    ).with_panel(
        timeseries_panel(
            "离线设备（按区县）",
            "Offline by district",
            InfluxQL(f'SELECT sum("offline") {online} {tick}, "district" fill(none)').alias(
                "$tag_district"
            ),
            description="Known devices offline at each health check, per district.",
            unit="short",
            names=DISTRICT_NAMES,
        )
    )
    d.with_panel(
        table_panel(
            "静默设备",
            "Silent devices",
            InfluxQL(
                f'SELECT last("age_s") AS "age_s" {per_device} AND "online" = false '
                'GROUP BY "device", "facility", "vendor", "district"'
            ).table(),
            description="Devices offline at the latest health checks (last minute), with the "
            "seconds since their last message.",
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
                f'SELECT sum("count") {dead} GROUP BY time($__interval), "reason" fill(0)'
            ).alias("$tag_reason"),
            description="Dead letters per interval by reason code (bad_json, invalid_field, "
            "stale_timestamp, ... from the collectors; invalid_envelope, influx_rejected from "
            "streams).",
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
