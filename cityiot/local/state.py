"""What runs, as recorded in ``services.json`` under the run directory.

``cityiot services status`` and ``down`` read it from another process than the one that started
the servers, so it holds everything needed to find, probe and stop them: pid, port, URL, log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from cityiot.local import ports
from core.errors import ServiceError

__all__ = [
    "STATE_FILE",
    "STOP_GRACE_S",
    "ServerName",
    "ServerState",
    "ServicesState",
    "alive",
    "clear_run_data",
    "iter_urls",
    "read_state",
    "stop_state",
]

ServerName = Literal["mqtt", "kafka", "influxdb"]
STATE_FILE = "services.json"
# Servers get this long to exit on SIGTERM before SIGKILL (InfluxDB flushes its WAL, Kafka
# its logs).
STOP_GRACE_S = 15.0


class ServerState(BaseModel):
    """One running server as recorded in ``services.json``."""

    name: ServerName
    pid: int
    port: int
    url: str
    log: str
    healthy: bool | None = None
    # Which program serves it ("mosquitto", "apache-kafka", "tansu", "influxd").
    kind: str | None = None


class ServicesState(BaseModel):
    run_dir: str
    servers: list[ServerState]
    mqtt_auth_dir: str | None = None
    # Folders of the Kafka and InfluxDB users when those servers run with authentication: the
    # health probes of `cityiot services status` log in as their admins.
    kafka_auth_dir: str | None = None
    influxdb_auth_dir: str | None = None

    def get(self, name: ServerName) -> ServerState:
        for server in self.servers:
            if server.name == name:
                return server
        raise KeyError(name)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, exited but not reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True


def read_state(run_dir: Path) -> ServicesState | None:
    """The recorded state, or None when nothing was started from ``run_dir``.

    Raises:
        ServiceError: the file exists but is not a state this version wrote.
    """
    path = run_dir.resolve() / STATE_FILE
    if not path.exists():
        return None
    try:
        return ServicesState.model_validate_json(path.read_text())
    except (ValidationError, OSError, UnicodeDecodeError):
        raise ServiceError(
            "services",
            f"{path} is not a services state this version can read",
            fix=f"stop any servers by hand, then delete {path}",
        ) from None


# What one run of the platform leaves in its run directory: broker data, storage, sessions and
# the platform's own files (truth, registry, logs, the worker's state).
RUN_DATA = (
    "kafka/data",
    "influxdb/data",
    "influxdb/wal",
    "influxdb/meta",
    "mosquitto/mosquitto.db",
    "platform",
)


def clear_run_data(run_dir: Path) -> list[str]:
    """Delete the data of earlier runs under ``run_dir`` (configs stay); returns what went.

    Raises:
        ServiceError: servers recorded there still run.
    """
    state = read_state(run_dir)
    if state is not None and any(alive(s.pid) for s in state.servers):
        raise ServiceError(
            "services",
            f"already running from {run_dir}",
            fix=f"cityiot services down --run-dir {run_dir}",
        )
    removed = []
    for name in RUN_DATA:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(name)
    return removed


def stop_state(state: ServicesState) -> list[str]:
    """Stop servers recorded by a detached ``services up``; returns the names that were running."""
    stopped: list[str] = []
    for server in state.servers:
        if alive(server.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGTERM)
            stopped.append(server.name)
    deadline = time.monotonic() + STOP_GRACE_S
    for server in state.servers:
        while alive(server.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(server.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)
        ports.wait_port_free(server.port)
    with contextlib.suppress(FileNotFoundError):
        (Path(state.run_dir) / STATE_FILE).unlink()
    return stopped


def iter_urls(state: ServicesState) -> Iterator[tuple[str, str, bool | None]]:
    for server in state.servers:
        yield server.name, server.url, server.healthy
