"""Every probe deploy/ declares for cityiot's own processes answers on a real process.

Read from the files: the startup, liveness and readiness probes of the workloads in
deploy/k8s/*.yaml, the health check of each cityiot service in deploy/compose/compose.yaml (its
own, or the image's HEALTHCHECK it inherits from the Dockerfile). For each workload the test
starts its command (``cityiot collect``, ``cityiot stream``, as the image's ENTRYPOINT runs it)
as a real process with the environment the manifest gives it, on the session's servers, waits
until it is ready and asks every probe: each must answer 200 (a health check: exit 0).

The environment, variable by variable:

- kept from the manifest: every ``CITYIOT_*`` with a literal value (ConfigMap, ``env``, Compose
  ``environment`` with its defaults), ports and bind addresses included;
- replaced: the server sections (``CITYIOT_MQTT_*``, ``CITYIOT_KAFKA_*``, ``CITYIOT_INFLUXDB_*``:
  where the servers are, how to log in, what one local broker holds) by the test's settings,
  and the names that must be this test's own (topics, database, group, client id, app id);
- ports: each port number of the manifest, in the environment and in the probes alike, becomes
  one free port of this machine, the same number the same port. A probe aimed at another port
  than the one its process is given still misses, and no run collides on 9464.

Kubernetes probes are asked on this machine's own (non-loopback) address when it has one: the
kubelet probes the pod's address, which a server bound to loopback does not answer.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests_support import eventually

from cityiot.local.ports import free_port
from core.settings import Settings
from core.settings.env import to_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
# cityiot's long-running commands: the processes with probes. (simulate and dashboards have
# nothing to probe; the image's check passes for them without asking anything.)
COMMANDS = ("collect", "stream")
# Server sections: the fixtures' servers replace the manifest's.
SERVER_PREFIXES = ("CITYIOT_MQTT_", "CITYIOT_KAFKA_", "CITYIOT_INFLUXDB_")
# A probe's own timeout in the manifests is 3 s; a loaded machine gets a little more.
PROBE_TIMEOUT_S = 10.0
# A workload's process stops within its grace period (40 s collectors, 60 s workers).
STOP_TIMEOUT_S = 60.0
_COMPOSE_DEFAULT = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


@dataclass(frozen=True)
class Probe:
    """One probe of a manifest: an HTTP GET, a TCP connect, or a command to run."""

    name: str  # e.g. readinessProbe, healthcheck
    kind: str  # http | tcp | command
    port: int = 0
    path: str = ""
    command: tuple[str, ...] = ()
    waits_for_ready: bool = False


@dataclass(frozen=True)
class Workload:
    """A cityiot process as a manifest runs it."""

    id: str
    args: tuple[str, ...]
    env: dict[str, str]
    probes: tuple[Probe, ...]
    kubelet: bool = field(default=False)  # probed from outside the pod, on its address


# -- reading the manifests -------------------------------------------------------------------
def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _k8s_workloads() -> list[Workload]:
    docs = [doc for path in sorted(K8S.glob("*.yaml")) for doc in _docs(path)]
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
    }
    found = []
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            args = tuple(container.get("args", ()))
            if not args or args[0] not in COMMANDS:
                continue
            env: dict[str, str] = {}
            for source in container.get("envFrom", ()):
                env.update(config_maps[source["configMapRef"]["name"]])
            env.update({e["name"]: e["value"] for e in container.get("env", ()) if "value" in e})
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", ())}
            probes = []
            for name in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = container.get(name)
                if probe is None:
                    continue
                if "httpGet" in probe:
                    action, kind = probe["httpGet"], "http"
                elif "tcpSocket" in probe:
                    action, kind = probe["tcpSocket"], "tcp"
                else:
                    pytest.fail(
                        f"{doc['metadata']['name']} {name}: only httpGet/tcpSocket run here"
                    )
                port = action["port"]
                probes.append(
                    Probe(
                        name=name,
                        kind=kind,
                        port=ports[port] if isinstance(port, str) else int(port),
                        path=action.get("path", ""),
                        waits_for_ready=name == "readinessProbe",
                    )
                )
            found.append(
                Workload(
                    id=f"k8s-{doc['metadata']['name']}",
                    args=args,
                    env={k: str(v) for k, v in env.items()},
                    probes=tuple(probes),
                    kubelet=True,
                )
            )
    return found


def _image_healthcheck() -> tuple[str, ...]:
    """The Dockerfile HEALTHCHECK's exec-form command."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    (line,) = [ln for ln in joined.splitlines() if ln.startswith("HEALTHCHECK ")]
    return tuple(json.loads(line.split(" CMD ", 1)[1]))


def _compose_value(value: object) -> str:
    """A Compose value with each ``${VAR:-default}`` as its default (what .env.example sets)."""
    return _COMPOSE_DEFAULT.sub(lambda m: m.group(2) or "", str(value))


def _compose_workloads() -> list[Workload]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    image_check = _image_healthcheck()
    found = []
    for name, service in services.items():
        args = tuple(service.get("command", ()))
        if not args or args[0] not in COMMANDS:
            continue
        raw = service.get("environment", {})
        if isinstance(raw, list):
            raw = dict(item.split("=", 1) for item in raw)
        env = {k: _compose_value(v) for k, v in raw.items()}
        test = service.get("healthcheck", {}).get("test")
        if test is None:
            command = image_check  # the image's, inherited
        elif test[0] == "CMD":
            command = tuple(test[1:])
        else:  # CMD-SHELL
            command = ("sh", "-c", test[1])
        probes = (Probe(name="healthcheck", kind="command", command=command),)
        found.append(
            Workload(id=f"compose-{name}", args=args, env=env, probes=probes, kubelet=False)
        )
    return found


WORKLOADS = _k8s_workloads() + _compose_workloads()


def test_manifests_declare_probes_for_each_command() -> None:
    """The reading above finds both commands in both deployments, each with probes."""
    assert {(w.id.split("-")[0], w.args[0]) for w in WORKLOADS} == {
        (where, command) for where in ("k8s", "compose") for command in COMMANDS
    }
    for workload in WORKLOADS:
        assert workload.probes, workload.id
    k8s = {p.name for w in WORKLOADS if w.kubelet for p in w.probes}
    assert k8s == {"startupProbe", "livenessProbe", "readinessProbe"}


# -- running a workload ----------------------------------------------------------------------
def _pod_address() -> str:
    """This machine's address towards the network (what a kubelet would probe), else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, nothing is sent
            address: str = sock.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return address


def _port_map(workload: Workload) -> dict[int, int]:
    numbers = {p.port for p in workload.probes if p.port}
    numbers |= {int(v) for k, v in workload.env.items() if k.endswith("_PORT") and v.isdigit()}
    return {n: free_port() for n in sorted(numbers) if n}


def _environment(
    workload: Workload, settings: Settings, ports: dict[int, int], run_dir: Path
) -> dict[str, str]:
    """The manifest's CITYIOT_* with the replacements of the module docstring."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    # `python` in a health check is the image's venv interpreter: here, this one.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for key, value in workload.env.items():
        if key.startswith(SERVER_PREFIXES):
            continue
        if key.endswith("_PORT") and value.isdigit() and int(value):
            value = str(ports[int(value)])
        env[key] = value
    env.update({k: v for k, v in to_env(settings).items() if k.startswith(SERVER_PREFIXES)})
    env.update(
        {
            "CITYIOT_COLLECTOR_GROUP": settings.collector.group,
            "CITYIOT_COLLECTOR_CLIENT_ID": settings.collector.client_id,
            "CITYIOT_STREAM_APP_ID": settings.stream.app_id,
            "CITYIOT_RUN_DIR": str(run_dir),
        }
    )
    return env


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; stopped (SIGTERM, then SIGKILL) even when it fails."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ask(probe: Probe, host: str, port: int, env: dict[str, str]) -> str | None:
    """None when the probe passes, else what it got."""
    if probe.kind == "command":
        argv = list(probe.command)
        result = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
        return None if result.returncode == 0 else f"exit {result.returncode}: {result.stdout}"
    if probe.kind == "tcp":
        try:
            socket.create_connection((host, port), PROBE_TIMEOUT_S).close()
        except OSError as exc:
            return str(exc)
        return None
    url = f"http://{host}:{port}{probe.path}"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as answer:
            status = int(answer.status)
            body = answer.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read().decode(errors="replace")
    except OSError as exc:
        return f"{url}: {exc}"
    # The kubelet counts 200-399 as success; ours answer 200 or 503.
    return None if status == 200 else f"{url}: {status} {body.strip()}"


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_deploy_probe_answers_on_real_process(
    workload: Workload,
    settings: Settings,
    tmp_path: Path,
    started: list[subprocess.Popen[bytes]],
) -> None:
    """The workload's process, run with its manifest's environment, passes each of its probes
    on the port the probe names once it is ready, and fails them once stopped."""
    ports = _port_map(workload)
    env = _environment(workload, settings, ports, tmp_path / "run")
    log = tmp_path / "process.log"
    with log.open("wb") as out:
        # The image's ENTRYPOINT is `cityiot`, the manifest gives its arguments.
        proc = subprocess.Popen(
            [sys.executable, "-m", "cityiot", *workload.args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    started.append(proc)
    host = _pod_address() if workload.kubelet else "127.0.0.1"

    def answers(probe: Probe) -> str | None:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"{workload.id} exited with {proc.returncode}:\n{tail}")
        return _ask(probe, host, ports.get(probe.port, 0), env)

    def passes(probe: Probe) -> None:
        problem = answers(probe)
        assert problem is None, problem

    # In the manifest's order (startup, liveness, readiness): the first ones pass once the
    # process is up, the readiness probe once it is connected; then all of them, at once.
    for probe in workload.probes:
        eventually(lambda probe=probe: passes(probe), what=f"{workload.id} {probe.name}")
    answered = {probe.name: answers(probe) for probe in workload.probes}
    assert answered == {probe.name: None for probe in workload.probes}
    # And they answer for this process: stopped, it fails every one (a check with nothing to
    # ask, a port nobody serves, would still pass).
    proc.send_signal(signal.SIGTERM)
    # 0, or killed by the signal itself if it came before the handlers were installed (a
    # worker still starting: nothing is in flight then).
    assert proc.wait(STOP_TIMEOUT_S) in (0, -signal.SIGTERM)
    passing = [p.name for p in workload.probes if _ask(p, host, ports.get(p.port, 0), env) is None]
    assert passing == [], f"{workload.id}: probes passing without the process"
