"""Start order does not matter: a collector and a worker started before Kafka wait, then work."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests_e2e_support import spawn_commands
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
    logs = {name: tmp_path / f"{name}.log" for name in ("collect", "stream")}
    procs = spawn_commands(own_servers, tmp_path)
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
