"""A server restarted mid-run: InfluxDB away for seconds; the pipeline holds, then catches up."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from pathlib import Path

from tests_e2e_support import RUN, explain, finish, start

from cityiot.local.platform import Platform
from cityiot.local.runner import LocalServers
from core.settings import Settings

# Long enough that the streams worker retries and holds its offsets, short enough for CI.
INFLUXDB_DOWN_S = 8.0
# Long enough for the collector's in-flight window to fill many times over at the run's rate.
KAFKA_DOWN_S = 20.0


def _settings(servers: LocalServers, tmp_path: Path) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        mqtt={"url": servers.mqtt_url, "topic_prefix": f"city-{tag}"},
        kafka={"bootstrap_servers": servers.kafka_bootstrap},
        influxdb={"url": servers.influxdb_url, "database": f"db_{tag}"},
        stream={"app_id": f"streams_{tag}"},
        collector={"group": f"collectors_{tag}", "client_id": f"collector_{tag}"},
        run_dir=tmp_path / "run",
    )


def test_e2e_influxdb_restart_still_exact(own_servers: LocalServers, tmp_path: Path) -> None:
    """InfluxDB stopped for seconds mid-run and started again: storage still equals truth."""
    platform = Platform(_settings(own_servers, tmp_path), tmp_path / "platform")
    try:
        start(platform, replace(RUN, seed=RUN.seed + 2))
        time.sleep(4.0)
        own_servers.restart("influxdb", down_s=INFLUXDB_DOWN_S)
        result = finish(platform)
        assert result.exact, explain(result)
        platform.children.check(expected_exits=("simulator",))
    finally:
        platform.stop()


def test_e2e_kafka_away_20s_under_load_still_exact(
    own_servers: LocalServers, tmp_path: Path
) -> None:
    """Apache Kafka stopped for 20 s while devices publish: the collector stops taking messages
    (Receive Maximum), Mosquitto holds them, and when Kafka is back nothing is lost."""
    run = replace(RUN, seed=RUN.seed + 6, duration=30.0)
    settings = _settings(own_servers, tmp_path)
    # A small window, so it fills within a second or two of Kafka going and the broker holds
    # the rest (at the default 10,000 the whole outage would fit in flight).
    settings = settings.model_copy(
        update={"collector": settings.collector.model_copy(update={"max_in_flight": 200})}
    )
    platform = Platform(settings, tmp_path / "platform")
    try:
        start(platform, run)
        time.sleep(4.0)
        own_servers.restart("kafka", down_s=KAFKA_DOWN_S)
        result = finish(platform)
        assert result.exact, explain(result)
        platform.children.check(expected_exits=("simulator",))
    finally:
        platform.stop()


def test_e2e_mosquitto_restart_with_backlog_still_exact(
    own_servers: LocalServers, tmp_path: Path
) -> None:
    """Messages held only by Mosquitto (collector away) survive its restart: still exact.

    The simulator does not reconnect, so the broker restarts between publishing and collecting:
    the backlog lives in the collector's persistent session and Mosquitto's persistence file.
    """
    run = replace(RUN, seed=RUN.seed + 4, duration=6.0)
    platform = Platform(_settings(own_servers, tmp_path), tmp_path / "platform")
    try:
        assert platform.write_registry(run) == run.devices + run.will_devices
        platform.start_stream()
        platform.start_collector()
        platform.wait_collector_connected()
        platform.children.stop("collector")  # graceful: its session (and subscription) stays
        platform.start_simulator(run)
        assert platform.children.wait("simulator", 90) == 0
        own_servers.restart("mqtt", down_s=2.0)
        platform.start_collector()
        result = platform.wait_reconciled(platform.truth())
        assert result.exact, explain(result)
    finally:
        platform.stop()
