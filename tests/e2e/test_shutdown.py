"""SIGTERM stops the long-running commands within 10 s even when their Kafka is gone."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests_e2e_support import spawn_commands

from cityiot.local.runner import LocalServers

# What Kubernetes, systemd and `docker stop` allow before SIGKILL is 10 s at the least.
STOP_LIMIT_S = 10.0
# Long enough for both processes to connect, join their groups and be at work.
WARM_UP_S = 15.0


def test_collect_and_stream_stop_on_sigterm_with_kafka_gone(
    own_servers: LocalServers, tmp_path: Path
) -> None:
    """Kafka killed under a running collector and worker: SIGTERM still ends both, exit 0."""
    procs = spawn_commands(own_servers, tmp_path)
    try:
        time.sleep(WARM_UP_S)
        assert all(p.poll() is None for p in procs.values()), "a process died while starting"
        own_servers._procs["kafka"].kill()
        own_servers._procs["kafka"].wait()
        time.sleep(3.0)  # both notice: connections refused, requests failing
        took: dict[str, float] = {}
        for name, proc in procs.items():
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(STOP_LIMIT_S + 20)
            took[name] = time.monotonic() - started
            assert code == 0, (name, (tmp_path / f"{name}.log").read_text()[-2000:])
        assert all(t <= STOP_LIMIT_S for t in took.values()), took
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        # The runner's stop() expects its own processes: give it a Kafka to stop.
        own_servers._procs.pop("kafka", None)
