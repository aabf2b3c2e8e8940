"""Shared steps of the end-to-end tests: start the platform on a seeded run, finish, explain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cityiot.local.platform import Platform, SimulatorRun
from cityiot.local.runner import LocalServers
from cityiot.reconcile import Reconciliation

# Enough traffic for every facility, channel and reject reason; short enough for CI on 2 cores.
RUN = SimulatorRun(devices=150, rate=300.0, duration=12.0, seed=7, bad_ratio=0.05)
# The simulator stops itself after RUN.duration; this covers its start and its final drain.
SIMULATOR_TIMEOUT_S = 90.0


def explain(result: Reconciliation) -> str:
    wrong = [f"{c.name}: expected {c.expected}, stored {c.actual}" for c in result.mismatches]
    return (
        f"lost={result.lost} deadlettered={result.deadlettered} "
        f"expected={result.expected_deadletters}\n" + "\n".join(wrong[:30])
    )


def start(platform: Platform, run: SimulatorRun) -> None:
    assert platform.write_registry(run) == run.devices + run.will_devices
    platform.start_stream()
    platform.start_collector()
    platform.wait_collector_connected()
    platform.start_simulator(run)


def finish(platform: Platform) -> Reconciliation:
    assert platform.children.wait("simulator", SIMULATOR_TIMEOUT_S) == 0
    truth = platform.truth()
    assert truth.valid > 1000
    assert set(truth.rejected_by_reason) >= {"bad_json", "invalid_field", "unknown_device"}
    return platform.wait_reconciled(truth)


def spawn_commands(
    servers: LocalServers, tmp_path: Path, names: tuple[str, ...] = ("collect", "stream")
) -> dict[str, subprocess.Popen[bytes]]:
    """``cityiot <name>`` processes on ``servers``, no other CITYIOT_* from this environment;
    each logs to ``tmp_path/<name>.log``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    env = {
        **clean,
        "CITYIOT_MQTT_URL": servers.mqtt_url,
        "CITYIOT_KAFKA_BOOTSTRAP_SERVERS": servers.kafka_bootstrap,
        "CITYIOT_INFLUXDB_URL": servers.influxdb_url,
        "CITYIOT_RUN_DIR": str(tmp_path / "run"),
    }
    return {
        name: subprocess.Popen(
            [sys.executable, "-m", "cityiot", name],
            env=env,
            stdout=(tmp_path / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for name in names
    }
