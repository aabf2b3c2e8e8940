"""The whole platform on one machine: servers, a collector, a streams worker, the simulator.

``cityiot up`` and the end-to-end tests run the same thing: the local servers (or servers already
started), then each platform process as a child with settings passed through ``CITYIOT_*``
variables, then a reconciliation of the simulator's truth against storage.

When the local Kafka or InfluxDB runs with authentication (``CITYIOT_KAFKA_AUTH_DIR``,
``CITYIOT_INFLUXDB_AUTH_DIR``), each process is its own user, given its password as a file: the
collector ``cityiot-collector``, the worker ``cityiot-streams`` and ``cityiot-writer``, and the
reconciliation here ``cityiot-tools`` and ``cityiot-reader``.
"""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from cityiot.access import influx_users, kafka_users
from cityiot.access.passwords import PasswordDir
from cityiot.local.children import ChildProcesses
from cityiot.local.ports import free_port
from cityiot.reconcile import Reconciliation, compare, count_deadletters, read_stored
from core.influx import InfluxQueryError, InfluxTarget
from core.settings import InfluxDBSettings, KafkaSettings, Settings
from core.settings.env import to_env
from schemas import DistrictIndex
from simulator.fleet import build_fleet
from simulator.truth import Truth

__all__ = ["Platform", "SimulatorRun", "scrape", "settings_env"]

# Collector and worker give up their share of a consumer group / session within seconds here.
LOCAL_STREAM_ENV = {
    "CITYIOT_STREAM_REBALANCE_TIMEOUT_S": "5",
    "CITYIOT_STREAM_SESSION_TIMEOUT_S": "6",
    "CITYIOT_STREAM_HEARTBEAT_INTERVAL_S": "1",
}
# Stop order: the producer side first, so every stage can drain what the one before sent.
STOP_ORDER = ("simulator", "collector", "stream")


def settings_env(settings: Settings) -> dict[str, str]:
    """``CITYIOT_*`` variables that rebuild ``settings`` in a child process (secrets included:
    the environment of our own children is the one place they may go)."""
    return to_env(settings)


def scrape(port: int) -> dict[str, float]:
    """A Prometheus endpoint's samples as ``name{label=value,...}`` → value (empty if down)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@dataclass(frozen=True)
class SimulatorRun:
    devices: int = 200
    rate: float = 500.0
    duration: float | None = 30.0
    seed: int = 1
    bad_ratio: float = 0.02
    nmea_ratio: float = 0.1
    will_devices: int = 2


class Platform:
    """Collector, streams worker and simulator as children, wired to one set of servers."""

    def __init__(self, settings: Settings, run_dir: Path) -> None:
        self.run_dir = run_dir.resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.registry_path = self.run_dir / "registry.csv"
        self.truth_path = self.run_dir / "truth.json"
        self.collector_metrics_port = free_port()
        self.stream_metrics_port = free_port()
        self.settings = settings.model_copy(update={"registry_path": self.registry_path})
        self.children = ChildProcesses(self.run_dir / "logs")

    # -- processes ---------------------------------------------------------------------------
    def write_registry(self, run: SimulatorRun) -> int:
        """The simulator's fleet as the collectors' registry (same seed, same devices)."""
        fleet = build_fleet(
            run.devices, seed=run.seed, locator=DistrictIndex.load(), will_devices=run.will_devices
        )
        registry = fleet.registry()
        registry.write_csv(self.registry_path)
        return len(registry)

    def _env(self) -> dict[str, str]:
        return {**settings_env(self.settings), **LOCAL_STREAM_ENV}

    # -- users, when the servers have authentication -----------------------------------------
    def kafka_as(self, user: str) -> KafkaSettings:
        """The Kafka settings of ``user`` (the settings' own without CITYIOT_KAFKA_AUTH_DIR)."""
        k = self.settings.kafka
        if k.auth_dir is None:
            return k
        return kafka_users.user_settings(k, PasswordDir(k.auth_dir.resolve()), user)

    def influxdb_as(self, user: str) -> InfluxDBSettings:
        """The InfluxDB settings of ``user`` (the settings' own without
        CITYIOT_INFLUXDB_AUTH_DIR)."""
        i = self.settings.influxdb
        if i.auth_dir is None:
            return i
        return influx_users.user_settings(i, PasswordDir(i.auth_dir.resolve()), user)

    def _user_env(self, kafka_user: str, influxdb_user: str | None = None) -> dict[str, str]:
        """Variables that make a child ``kafka_user`` (and ``influxdb_user``) on servers with
        authentication: the password as its file, never in the environment."""
        env: dict[str, str] = {}
        if self.settings.kafka.auth_dir is not None:
            k = self.kafka_as(kafka_user)
            env["CITYIOT_KAFKA_SECURITY_PROTOCOL"] = k.security_protocol
            env["CITYIOT_KAFKA_SASL_MECHANISM"] = k.sasl_mechanism
            env["CITYIOT_KAFKA_USERNAME"] = kafka_user
            env["CITYIOT_KAFKA_PASSWORD_FILE"] = str(k.password_file)
        if influxdb_user is not None and self.settings.influxdb.auth_dir is not None:
            env["CITYIOT_INFLUXDB_USERNAME"] = influxdb_user
            env["CITYIOT_INFLUXDB_PASSWORD_FILE"] = str(
                self.influxdb_as(influxdb_user).password_file
            )
        return env

    def _child_env(self, kafka_user: str, influxdb_user: str | None = None) -> dict[str, str]:
        env = self._env()
        overrides = self._user_env(kafka_user, influxdb_user)
        for section in ("KAFKA", "INFLUXDB"):
            if f"CITYIOT_{section}_PASSWORD_FILE" in overrides:
                # The file is the child's password; no other secret rides along beside it.
                env.pop(f"CITYIOT_{section}_PASSWORD", None)
                env.pop(f"CITYIOT_{section}_TOKEN", None)
        return {**env, **overrides}

    def start_collector(
        self,
        name: str = "collector",
        client_id: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        env = {**self._child_env(kafka_users.COLLECTOR_USER), **(extra_env or {})}
        env["CITYIOT_COLLECTOR_METRICS_PORT"] = str(self.collector_metrics_port)
        if client_id is not None:
            env["CITYIOT_COLLECTOR_CLIENT_ID"] = client_id
        self.children.start(name, ["collect"], env)

    def start_stream(self, name: str = "stream") -> None:
        env = self._child_env(kafka_users.STREAMS_USER, influx_users.WRITER_USER)
        env["CITYIOT_STREAM_METRICS_PORT"] = str(self.stream_metrics_port)
        env["CITYIOT_STREAM_DATA_DIR"] = str(self.run_dir / "stream-data")
        self.children.start(name, ["stream"], env)

    def start_simulator(
        self, run: SimulatorRun, extra_env: Mapping[str, str] | None = None
    ) -> None:
        args = [
            "simulate",
            f"--devices={run.devices}",
            f"--rate={run.rate}",
            f"--seed={run.seed}",
            f"--bad-ratio={run.bad_ratio}",
            f"--nmea-ratio={run.nmea_ratio}",
            f"--will-devices={run.will_devices}",
            f"--truth={self.truth_path}",
        ]
        if run.duration is not None:
            args.append(f"--duration={run.duration}")
        self.children.start("simulator", args, {**self._env(), **(extra_env or {})})

    def wait_collector_connected(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.children.check()
            if scrape(self.collector_metrics_port).get("cityiot_collector_mqtt_connects_total", 0):
                return
            time.sleep(0.2)
        raise TimeoutError("the collector did not connect to MQTT in time")

    def stop(self) -> None:
        self.children.stop_all(STOP_ORDER)

    # -- what happened -----------------------------------------------------------------------
    def truth(self) -> Truth:
        return Truth.model_validate_json(self.truth_path.read_text(encoding="utf-8"))

    def influx(self) -> InfluxTarget:
        """Where storage is read: as the read-only user when InfluxDB has authentication."""
        return InfluxTarget.from_settings(self.influxdb_as(influx_users.READER_USER))

    def reconcile(self, truth: Truth) -> Reconciliation:
        deadletters: Counter[str] = count_deadletters(
            self.settings.kafka.bootstrap_servers,
            self.settings.kafka.deadletter_topic,
            security=self.kafka_as(kafka_users.TOOLS_USER).librdkafka_security(),
        )
        return compare(truth, read_stored(self.influx()), deadletters)

    def wait_reconciled(self, truth: Truth, timeout: float = 120.0) -> Reconciliation:
        """Reconcile until exact or ``timeout``: storage trails the simulator by a batch or two."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = self.reconcile(truth)
            except InfluxQueryError:
                # The worker creates the database with its first write; until then, nothing.
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
                continue
            if result.exact or time.monotonic() > deadline:
                return result
            time.sleep(1.0)
