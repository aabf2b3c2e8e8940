"""厂商评分卡 / Vendor scorecard: how well each vendor's devices talk to the platform, per day.

One row per vendor over the range (messages, rejection rate and top reason, seq gaps, reboots,
late messages, clock skew, silent devices), then the same figures per day (Beijing days).

Where the figures come from, and how they stay exact:

* messages: ``count`` of the group roll-ups (``{kind}_1m``, every kind that has one; statuses
  have none), summed over partitions: accepted on time, redeliveries left out;
* rejected: ``deadletters`` (one point per dead letter; ``vendor`` from the MQTT topic, so a topic
  naming no valid vendor is the row ``unknown``);
* seq gaps, reboots, late: per-device counters in ``device_health`` (``seq_gaps``, ``resets``,
  ``late``: totals since streams first saw the device). Per health tick, the vendor's total over
  its devices; the tick-to-tick differences of that total are summed per day: a day gets exactly
  what changed between its ticks and the tick before (midnight included); a gap filled by a
  late message counts down again. What changed before the range's first tick is not counted;
* clock skew: each device's median ``skew_p50_ms`` and highest ``skew_p99_ms`` over the day's
  health ticks (receive minus device time over its last 32 messages; a clock ahead is
  negative), then per vendor the median of the former and the 99th percentile of the latter;
* silent: devices with at least one health tick offline in the day (or the range).

The rejection rate is rejected / (messages + late + rejected): every message the collectors
received that was no redelivery is in exactly one of the three (statuses aside). The sums across
measurements happen in Grafana (one InfluxQL series per measurement); per-device figures are
summed per vendor in InfluxDB with a subquery.
"""

# ruff: noqa: S608 -- InfluxQL built from this module's constants; no outside input reaches it.

from __future__ import annotations

import string

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, HEALTH_TICK, TIMEZONE, Board, new_dashboard, where
from dashboards.influxql import InfluxQL
from dashboards.panels import table_panel, timeseries_panel
from dashboards.transforms import FRAME_TIME, binary, merge, organize, row_sum
from schemas.catalog import MESSAGE_TYPES
from schemas.topic import Channel

__all__ = ["BOARD", "ROLLUP_KINDS", "SCORECARD_COLUMNS", "UID"]

UID = "cityiot-vendors"
# Body kinds with a group roll-up (streams/measurements.py, ``rollup=True``): every kind but the
# status, in the schemas' catalogue order, so a new facility's kinds join by themselves. A unit
# test keeps this equal to streams' table.
ROLLUP_KINDS = tuple(mt.kind for mt in MESSAGE_TYPES if mt.channel is not Channel.STATUS)
# A scorecard is read per day: seven Beijing days, today included. Its figures move slowly, and
# its device_health queries read every health tick of the range: no need to rerun them each minute.
RANGE = ("now-6d/d", "now")
REFRESH = "15m"
F = ("facility", "vendor")
PER_DAY = f"GROUP BY time(1d), \"vendor\" fill(none) tz('{TIMEZONE}')"
# The scorecard's columns as shown, in order (the table's query columns renamed).
SCORECARD_COLUMNS = {
    "vendor": "厂商 Vendor",
    "messages": "消息 Messages",
    "rejected": "拒收 Rejected",
    "rejection_rate": "拒收率 Rejection rate",
    "reason": "主要拒收原因 Top reason",
    "gaps": "序号缺口 Seq gaps",
    "reboots": "重启 Reboots",
    "late": "迟到 Late",
    "skew_p50": "时钟偏差 p50 Clock skew p50",
    "skew_p99": "时钟偏差 p99 Clock skew p99",
    "silent": "静默设备 Silent devices",
}


def _counters(group: str) -> str:
    """Per vendor: the tick-to-tick changes of its devices' counters, summed by ``group``.

    Inside, one row per health tick and vendor (its devices' totals) and ``difference()`` to
    the tick before; ticks are stamped at the same instant by every worker (HEALTH_TICK).
    """
    ticks = (
        'SELECT difference(sum("seq_gaps")) AS "gaps", difference(sum("resets")) AS "reboots", '
        f'difference(sum("late")) AS "late" FROM "device_health" {where(*F)} '
        f'GROUP BY time({HEALTH_TICK}), "vendor" fill(none)'
    )
    return f"FROM ({ticks}) {where()} {group}"


def _silent(device_group: str, group: str) -> str:
    """Devices with an offline health tick, one row each per ``device_group``, counted."""
    devices = (
        f'SELECT max("age_s") AS "age_s" FROM "device_health" {where(*F)} AND "online" = false '
        f"{device_group}"
    )
    return f'SELECT count("age_s") AS "silent" FROM ({devices}) {where()} {group}'


def _skew(device_group: str, group: str) -> str:
    """Clock skew per vendor: the median of its devices' median p50, and the 99th percentile of
    their highest p99. Per device first: a percentile over every tick of every device would hold
    all of them in InfluxDB's memory at once (2,880 a device and day)."""
    devices = (
        'SELECT median("skew_p50_ms") AS "p50", max("skew_p99_ms") AS "p99" '
        f'FROM "device_health" {where(*F)} {device_group}'
    )
    return (
        'SELECT percentile("p50", 50) AS "skew_p50", percentile("p99", 99) AS "skew_p99" '
        f"FROM ({devices}) {where()} {group}"
    )


def build() -> dashboard.Dashboard:
    d = new_dashboard(
        UID,
        "厂商评分卡",
        "Vendor scorecard",
        tags=["vendors"],
        variables=[v.datasource(), v.facility(), v.vendor(chained_on=("facility",))],
        time_range=RANGE,
        refresh=REFRESH,
    )
    by_vendor = 'GROUP BY "vendor"'
    per_device = 'GROUP BY "device", "vendor"'
    per_device_day = f'GROUP BY time(1d), "device", "vendor" tz(\'{TIMEZONE}\')'
    messages = [
        InfluxQL(
            f'SELECT sum("count") AS "{kind}" FROM "{kind}_1m" {where(*F)} {by_vendor}'
        ).table()
        for kind in ROLLUP_KINDS
    ]
    reasons = (
        f'SELECT sum("count") AS "n" FROM "deadletters" {where(*F)} GROUP BY "vendor", "reason"'
    )
    queries = [
        *messages,
        InfluxQL(
            f'SELECT sum("count") AS "rejected" FROM "deadletters" {where(*F)} {by_vendor}'
        ).table(),
        InfluxQL(
            f'SELECT top("n", "reason", 1) AS "top_n" FROM ({reasons}) {where()} {by_vendor}'
        ).table(),
        InfluxQL(
            'SELECT sum("gaps") AS "gaps", sum("reboots") AS "reboots", sum("late") AS "late" '
            + _counters(by_vendor)
        ).table(),
        InfluxQL(_skew(per_device, by_vendor)).table(),
        InfluxQL(_silent(per_device, by_vendor)).table(),
    ]
    for ref, query in zip(string.ascii_uppercase, queries, strict=False):
        query.ref_id(ref)
    d.with_panel(
        table_panel(
            "厂商评分卡",
            "Vendor scorecard",
            *queries,
            description="Per vendor over the range. Messages: accepted on time (1-minute "
            "roll-ups, redeliveries dropped). Rejected: dead letters; rejection rate = rejected "
            "/ (messages + late + rejected); top reason: the most frequent reject code. Seq "
            "gaps: seqs never stored (lost at the source, or spent on a rejected message; a "
            "late arrival fills its gap). "
            "Reboots: counter restarts. Late: accepted after their window closed (raw points "
            "only). Clock skew: receive minus device time; p50: median of the devices' median "
            "p50, p99: 99th percentile of their highest p99 (negative: clock ahead). Silent: "
            "devices offline at a health check. Gaps, reboots and late count what changed from "
            "the range's first health check.",
            unit="short",
            transformations=[
                merge(),
                row_sum("messages", ROLLUP_KINDS),
                row_sum("received", ["messages", "late", "rejected"]),
                binary("rejection_rate", "rejected", "/", "received"),
                organize(
                    list(SCORECARD_COLUMNS),
                    SCORECARD_COLUMNS,
                    hide=[FRAME_TIME, *ROLLUP_KINDS, "received", "top_n"],
                ),
            ],
            column_units={
                SCORECARD_COLUMNS["rejection_rate"]: "percentunit",
                SCORECARD_COLUMNS["skew_p50"]: "ms",
                SCORECARD_COLUMNS["skew_p99"]: "ms",
            },
            zero_when_empty=[
                SCORECARD_COLUMNS[c] for c in ("rejected", "gaps", "reboots", "late", "silent")
            ],
            sort_desc=SCORECARD_COLUMNS["rejection_rate"],
            w=24,
            h=10,
        )
    )
    rollups = ", ".join(f'"{kind}_1m"' for kind in ROLLUP_KINDS)
    d.with_panel(
        timeseries_panel(
            "每日消息",
            "Messages per day",
            InfluxQL(f'SELECT sum("count") FROM {rollups} {where(*F)} {PER_DAY}').alias(
                "$tag_vendor $m"
            ),
            description="Messages accepted on time per Beijing day, per vendor and kind "
            "(events, telemetry, positions: their 1-minute roll-ups).",
            unit="short",
            stack=True,
            draw_bars=True,
        )
    ).with_panel(
        timeseries_panel(
            "每日拒收",
            "Rejected per day",
            InfluxQL(f'SELECT sum("count") FROM "deadletters" {where(*F)} {PER_DAY}').alias(
                "$tag_vendor"
            ),
            description="Dead letters per Beijing day, per vendor (the topic's vendor; "
            "unknown when the topic named none).",
            unit="short",
            stack=True,
            draw_bars=True,
        )
    )
    reason_names = {"vendor": "厂商 Vendor", "reason": "原因 Reason", "rejected": "拒收 Rejected"}
    d.with_panel(
        table_panel(
            "拒收原因",
            "Rejections by reason",
            InfluxQL(
                f'SELECT sum("count") AS "rejected" FROM "deadletters" {where(*F)} '
                'GROUP BY "vendor", "reason"'
            ).table(),
            description="Dead letters per vendor and reject code over the range, most first "
            "(codes: collectors/README.md, Reject reasons).",
            unit="short",
            transformations=[organize(list(reason_names), reason_names, hide=[FRAME_TIME])],
            sort_desc=reason_names["rejected"],
        )
    ).with_panel(
        timeseries_panel(
            "每日序号缺口",
            "Seq gaps per day",
            InfluxQL(f'SELECT sum("gaps") {_counters(PER_DAY)}').alias("$tag_vendor"),
            description="Seqs of the vendor's devices never stored, per Beijing day: messages "
            "lost at the source, or rejected ones that carried a seq (a late arrival that fills "
            "a gap counts it down again).",
            unit="short",
            draw_bars=True,
        )
    )
    d.with_panel(
        timeseries_panel(
            "每日重启",
            "Reboots per day",
            InfluxQL(f'SELECT sum("reboots") {_counters(PER_DAY)}').alias("$tag_vendor"),
            description="Counter restarts (power cuts, watchdogs, firmware updates) of the "
            "vendor's devices per Beijing day.",
            unit="short",
            draw_bars=True,
        )
    ).with_panel(
        timeseries_panel(
            "每日迟到",
            "Late per day",
            InfluxQL(f'SELECT sum("late") {_counters(PER_DAY)}').alias("$tag_vendor"),
            description="Messages received after their 1-minute window closed "
            "(CITYIOT_STREAM_ALLOWED_LATENESS_S): stored raw, not in the roll-ups.",
            unit="short",
            draw_bars=True,
        )
    )
    d.with_panel(
        timeseries_panel(
            "每日时钟偏差",
            "Clock skew per day",
            InfluxQL(_skew(per_device_day, PER_DAY)).alias("$tag_vendor $col"),
            description="Receive time minus device time per Beijing day: the median of the "
            "devices' median p50, and the 99th percentile of their highest p99 (negative: "
            "clock ahead).",
            unit="ms",
        )
    ).with_panel(
        timeseries_panel(
            "每日静默设备",
            "Silent devices per day",
            InfluxQL(_silent(per_device_day, PER_DAY)).alias("$tag_vendor"),
            description="Devices of the vendor offline at one health check or more in the "
            "Beijing day (silent for three expected intervals, or their last will).",
            unit="short",
            draw_bars=True,
        )
    )
    return d


BOARD = Board(UID, FOLDERS["platform"], build)
