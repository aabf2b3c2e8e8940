"""平台运行 / Platform: the pipeline's own health, from ``platform_stats`` and ``deadletters``.

Each streams worker writes one ``platform_stats`` point every 10 s (tag ``instance``): counters
as deltas over those 10 s, so ``sum()`` over any range is right and a restart never goes
negative, and ``kafka_lag`` as a gauge. ``deadletters`` has one point per dead letter, tagged by
the component that rejected it (``collector`` or ``streams``).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, Board, new_dashboard, where
from dashboards.fields import steps
from dashboards.influxql import InfluxQL
from dashboards.panels import stat_panel, timeseries_panel

UID = "cityiot-platform"
PER_S = "/ ($__interval_ms / 1000)"
# A streams worker keeps up at a few thousand events/s: 10,000 behind is minutes late.
LAG = steps((None, "green"), (1000, "orange"), (10000, "red"))
ERRORS = steps((None, "green"), (1, "red"))


def build() -> dashboard.Dashboard:
    d = new_dashboard(UID, "平台运行", "Platform", tags=["platform"], variables=[v.datasource()])
    stats = f'FROM "platform_stats" {where()}'
    dead = f'FROM "deadletters" {where()}'
    d.with_panel(
        stat_panel(
            "流处理接收",
            "Events in",
            InfluxQL(f'SELECT sum("events_in") AS "events" {stats}'),
            description="Records the streams workers read from city.events.v1 over the range "
            "(duplicates and late events included).",
            unit="short",
            decimals=0,
            w=5,
        )
    ).with_panel(
        stat_panel(
            "Kafka 积压",
            "Kafka lag",
            InfluxQL(f'SELECT max("kafka_lag") AS "lag" {stats} GROUP BY time(1m) fill(none)'),
            description="Records the most-behind streams worker has yet to read (latest minute).",
            unit="short",
            decimals=0,
            thresholds=LAG,
            w=5,
        )
    ).with_panel(
        stat_panel(
            "写入点数",
            "Points written",
            InfluxQL(f'SELECT sum("points_written") AS "points" {stats}'),
            description="Points InfluxDB accepted from the streams workers over the range.",
            unit="short",
            decimals=0,
            w=5,
        )
    ).with_panel(
        stat_panel(
            "写入错误",
            "Write errors",
            InfluxQL(f'SELECT sum("write_errors") AS "errors" {stats}'),
            description="InfluxDB write requests that failed over the range (retried).",
            unit="short",
            decimals=0,
            thresholds=ERRORS,
            w=4,
        )
    ).with_panel(
        stat_panel(
            "死信",
            "Dead letters",
            InfluxQL(f'SELECT sum("count") AS "deadletters" {dead}'),
            description="Messages sent to city.deadletter.v1 over the range, by the "
            "collectors and the streams workers.",
            unit="short",
            decimals=0,
            thresholds=steps((None, "green"), (1, "orange")),
            w=5,
        )
    )
    d.with_panel(
        timeseries_panel(
            "吞吐量",
            "Throughput",
            InfluxQL(
                f'SELECT sum("events_in") {PER_S} AS "in", sum("duplicates") {PER_S} AS '
                f'"duplicates", sum("late") {PER_S} AS "late" {stats} '
                'GROUP BY time($__interval), "instance" fill(0)'
            ).alias("$tag_instance $col"),
            description="Events per second read by each streams worker, and how many of them "
            "were redeliveries (dropped) or too late for their 1-minute window (raw only).",
            unit="short",
        )
    ).with_panel(
        timeseries_panel(
            "Kafka 积压",
            "Kafka lag",
            InfluxQL(
                f'SELECT max("kafka_lag") {stats} GROUP BY time($__interval), "instance" fill(none)'
            ).alias("$tag_instance"),
            description="Consumer lag (records) of each streams worker, summed over its "
            "partitions.",
            unit="short",
            thresholds=LAG,
        )
    )
    d.with_panel(
        timeseries_panel(
            "写入 InfluxDB",
            "InfluxDB writes",
            InfluxQL(
                f'SELECT sum("points_written") {PER_S} AS "points/s" {stats} '
                "GROUP BY time($__interval) fill(0)"
            ),
            description="Points written per second by the streams workers.",
            unit="short",
        )
    ).with_panel(
        timeseries_panel(
            "错误与死信",
            "Errors and dead letters",
            InfluxQL(
                f'SELECT sum("write_errors") AS "写入错误 write errors" {stats} '
                "GROUP BY time($__interval) fill(0)"
            ).ref_id("A"),
            InfluxQL(f'SELECT sum("count") {dead} GROUP BY time($__interval), "component" fill(0)')
            .ref_id("B")
            .alias("死信 dead letters $tag_component"),
            description="Failed InfluxDB writes, and dead letters per component, per interval.",
            unit="short",
            draw_bars=True,
            thresholds=ERRORS,
        )
    )
    return d


BOARD = Board(UID, FOLDERS["platform"], build)
