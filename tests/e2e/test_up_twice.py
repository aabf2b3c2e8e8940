"""`cityiot up --duration` twice in one run directory: both reconciliations exact, exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cityiot.local.ports import free_port

# Enough for a few hundred messages through the whole chain; the drain follows.
DURATION_S = 15
# Start (JVM, InfluxDB), the run, the drain and the stop, on a busy 2-core machine.
RUN_TIMEOUT_S = 300


def test_up_twice_in_one_run_dir_both_exact(tmp_path: Path) -> None:
    """The second run starts clean: its reconciliation covers its own messages only."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    env = {
        **clean,
        "CITYIOT_RUN_DIR": str(tmp_path / "run"),
        "CITYIOT_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}",
        "CITYIOT_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "CITYIOT_INFLUXDB_URL": f"http://127.0.0.1:{free_port()}",
    }
    argv = [sys.executable, "-m", "cityiot", "up", "--duration", str(DURATION_S)]
    argv += ["--devices", "60", "--rate", "60"]
    for run in (1, 2):
        result = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
        assert result.returncode == 0, f"run {run}:\n{result.stdout[-3000:]}\n{result.stderr}"
        assert "mismatched totals" in result.stdout
        lost = [line for line in result.stdout.splitlines() if "lost" in line and "│" in line]
        assert lost, result.stdout[-2000:]
        assert lost[-1].replace("│", " ").split()[-1] == "0", lost[-1]
    assert "starting clean" in result.stdout
