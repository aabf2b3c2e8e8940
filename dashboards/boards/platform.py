"""平台运行 / Platform: the pipeline's own health, from the ``platform_stats`` measurement."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import variables as v
from dashboards.boards.common import FOLDERS, Board, new_dashboard, where
from dashboards.influxql import InfluxQL
from dashboards.panels import stat_panel, steps, timeseries_panel

UID = "cityiot-platform"
PER_S = "/ ($__interval_ms / 1000)"
# A streams worker keeps up at a few thousand events/s: 10,000 behind is minutes late.
LAG = steps((None, "green"), (1000, "orange"), (10000, "red"))
ERRORS = steps((None, "green"), (1, "red"))


def build() -> dashboard.Dashboard:
    d = new_dashboard(UID, "平台运行", "Platform", tags=["platform"], variables=[v.datasource()])
    stats = f'FROM "platform_stats" {where()}'
    d.with_panel(
        stat_panel(
            "接收消息",
            "Messages in",
            InfluxQL(f'SELECT sum("messages_in") AS "messages" {stats}'),
            description="MQTT messages the collectors received over the range.",
            unit="short",
            decimals=0,
            w=5,
        )
    ).with_panel(
        stat_panel(
            "Kafka 积压",
            "Kafka lag",
            InfluxQL(
                f'SELECT sum("kafka_lag") AS "lag" {stats} AND "component" = \'streams\' '
                "GROUP BY time(1m) fill(none)"
            ),
            description="Records the streams workers have yet to read (latest minute, summed "
            "over workers).",
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
            description="Points InfluxDB accepted over the range.",
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
            InfluxQL(f'SELECT sum("deadletters") AS "deadletters" {stats}'),
            description="Messages sent to city.deadletter.v1 over the range.",
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
                f'SELECT sum("messages_in") {PER_S} AS "in", sum("messages_out") {PER_S} AS '
                f'"out" {stats} GROUP BY time($__interval), "component" fill(0)'
            ).alias("$tag_component $col"),
            description="Messages per second in and out of each component.",
            unit="short",
        )
    ).with_panel(
        timeseries_panel(
            "Kafka 积压",
            "Kafka lag",
            InfluxQL(
                f'SELECT max("kafka_lag") {stats} GROUP BY time($__interval), "component" '
                "fill(none)"
            ).alias("$tag_component"),
            description="Consumer lag (records), per consuming component.",
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
                f'SELECT sum("write_errors") AS "写入错误 write errors", sum("deadletters") AS '
                f'"死信 dead letters" {stats} GROUP BY time($__interval) fill(0)'
            ),
            description="Failed InfluxDB writes and dead-lettered messages per interval.",
            unit="short",
            draw_bars=True,
            thresholds=ERRORS,
        )
    )
    return d


BOARD = Board(UID, FOLDERS["platform"], build)
