"""Start order does not matter: a collector and a worker started before Kafka wait, then work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests_support import eventually

from cityiot.local.runner import LocalServers

# Several attempts of both processes (5 s list timeout, 1 s doubling back-off) before Kafka comes.
KAFKA_AWAY_S = 12.0


def test_collect_and_stream_wait_for_kafka_then_proceed(
    own_servers: LocalServers, tmp_path: Path
) -> None:
    """Kafka down at start: a log line per attempt, no exit; Kafka up: both get to work."""
    own_servers._procs["kafka"].kill()
    own_servers._procs["kafka"].wait()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    env = {
        **clean,
        "CITYIOT_MQTT_URL": own_servers.mqtt_url,
        "CITYIOT_KAFKA_BOOTSTRAP_SERVERS": own_servers.kafka_bootstrap,
        "CITYIOT_INFLUXDB_URL": own_servers.influxdb_url,
        "CITYIOT_RUN_DIR": str(tmp_path / "run"),
    }
    logs = {name: tmp_path / f"{name}.log" for name in ("collect", "stream")}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "cityiot", name],
            env=env,
            stdout=logs[name].open("wb"),
            stderr=subprocess.STDOUT,
        )
        for name in logs
    }
    try:
        time.sleep(KAFKA_AWAY_S)
        assert all(p.poll() is None for p in procs.values()), "a process gave up on Kafka"
        for name in logs:
            assert "kafka not ready" in logs[name].read_text(errors="replace"), name
        kafka = own_servers._plans["kafka"]
        own_servers._spawn(kafka)
        own_servers._await_ready([kafka])
        eventually(
            lambda: "collector started" in logs["collect"].read_text(errors="replace"),
            what="the collector at work once Kafka came",
        )
        eventually(
            lambda: "partitions assigned" in logs["stream"].read_text(errors="replace"),
            what="the worker at work once Kafka came",
        )
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        assert [proc.wait(30) for proc in procs.values()] == [0, 0]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
