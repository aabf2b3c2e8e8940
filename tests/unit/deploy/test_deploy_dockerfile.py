"""Dockerfile: multi-stage python:3.11-slim, non-root, `cityiot` entry point, a working check."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

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


def _run_healthcheck(env: dict[str, str]) -> int:
    command = _healthcheck_command()
    assert command[0] == "python"
    clean = {k: v for k, v in os.environ.items() if k not in ("HEALTHCHECK_PORT",)}
    clean.pop("CITYIOT_COLLECTOR_METRICS_PORT", None)
    return subprocess.run(
        [sys.executable, *command[1:]], env={**clean, **env}, check=False
    ).returncode


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


def test_dockerfile_healthcheck_connects_to_port() -> None:
    """The health check passes while something listens on the port and fails once it is closed."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert _run_healthcheck({"HEALTHCHECK_PORT": str(port)}) == 0
        assert _run_healthcheck({"CITYIOT_COLLECTOR_METRICS_PORT": str(port)}) == 0
    assert _run_healthcheck({"HEALTHCHECK_PORT": str(port)}) != 0


@pytest.mark.parametrize("env", [{}, {"CITYIOT_COLLECTOR_METRICS_PORT": "0"}])
def test_dockerfile_healthcheck_without_port_is_healthy(env: dict[str, str]) -> None:
    """With no port to probe (simulate, dashboards, metrics off) the check passes."""
    assert _run_healthcheck(env) == 0
