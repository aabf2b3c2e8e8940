"""Dockerfile: multi-stage python:3.11-slim, non-root, `cityiot` entry point, a working check.

The health check runs as written (``python -m core.probes``) against a real probe server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from core.probes import Heartbeat, ProbeServer

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions(name: str) -> list[str]:
    """Arguments of every instruction called name, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [
        line.split(None, 1)[1]
        for line in joined.splitlines()
        if line.split(None, 1)[:1] == [name] and len(line.split(None, 1)) == 2
    ]


def _healthcheck_command() -> list[str]:
    (healthcheck,) = _instructions("HEALTHCHECK")
    command: list[str] = json.loads(healthcheck.split("CMD", 1)[1])
    return command


def _run_healthcheck(env: dict[str, str], cwd: Path) -> int:
    """The HEALTHCHECK's command with only ``env``'s CITYIOT_* variables, outside the checkout
    (the image runs it from /var/lib/cityiot)."""
    command = _healthcheck_command()
    assert command[0] == "python"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    return subprocess.run(
        [sys.executable, *command[1:]], env={**clean, **env}, cwd=cwd, check=False
    ).returncode


@pytest.fixture
def probe_server() -> Iterator[ProbeServer]:
    server = ProbeServer(
        host="127.0.0.1",
        port=0,
        registry=CollectorRegistry(),
        heartbeat=Heartbeat(60.0),
        ready=lambda: [],  # always ready: the check reads /healthz only
        port_variable="CITYIOT_COLLECTOR_METRICS_PORT",
    )
    yield server
    server.close()


def test_dockerfile_multi_stage_slim_non_root() -> None:
    """Build and runtime stages both come from python:3.11-slim; the runtime user is not root."""
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", DOCKERFILE, re.MULTILINE)
    stages = _instructions("FROM")
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    assert "build-essential" not in runtime
    (user,) = _instructions("USER")
    assert user.split(":")[0] not in ("root", "0")
    assert "COPY --from=build /opt/cityiot /opt/cityiot" in runtime


def test_dockerfile_entrypoint_is_cityiot() -> None:
    """ENTRYPOINT is the exec form ["cityiot"], so `docker run IMAGE collect` runs the collector."""
    assert [json.loads(e) for e in _instructions("ENTRYPOINT")] == [["cityiot"]]


def test_dockerfile_copies_every_package() -> None:
    """Each package pyproject installs is copied into the build and let through .dockerignore."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    copied = {c.split()[0] for c in _instructions("COPY") if not c.startswith("--")}
    allowed = set((ROOT / ".dockerignore").read_text().split())
    for package in packages:
        assert package in copied, package
        assert f"!{package}" in allowed, package


@pytest.mark.parametrize(
    "variable", ["CITYIOT_COLLECTOR_METRICS_PORT", "CITYIOT_STREAM_METRICS_PORT"]
)
def test_dockerfile_healthcheck_asks_healthz_on_the_process_port(
    probe_server: ProbeServer, variable: str, tmp_path: Path
) -> None:
    """The check passes while the process's /healthz answers 200 and fails once it is gone."""
    env = {variable: str(probe_server.port)}
    assert _run_healthcheck(env, tmp_path) == 0
    probe_server.close()
    assert _run_healthcheck(env, tmp_path) == 1


@pytest.mark.parametrize(
    "env",
    [{}, {"CITYIOT_COLLECTOR_METRICS_PORT": "0"}],
    ids=["no-port", "metrics-off"],
)
def test_dockerfile_healthcheck_without_port_is_healthy(
    env: dict[str, str], tmp_path: Path
) -> None:
    """With no port to probe (simulate, dashboards, metrics off) the check passes."""
    assert _run_healthcheck(env, tmp_path) == 0


def test_dockerfile_exposes_the_probe_ports() -> None:
    """EXPOSE lists the ports deploy/ gives the collector and the worker (9464, 9465)."""
    (exposed,) = _instructions("EXPOSE")
    assert exposed.split() == ["9464", "9465"]
