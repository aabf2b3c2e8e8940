"""deploy/compose's Kafka, run for real: its start script (on the Maven jars the local runner
uses, instead of the image's) and the ACL job: SCRAM users from secret files, ACLs per service,
no anonymous client, no password on a command line or in a log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from tests_support import eventually

from cityiot.access.kafka_users import KAFKA_USERS, SCRAM_MECHANISM
from cityiot.local import apache_kafka
from cityiot.local.ports import free_port
from cityiot.local.probes import ProbeFailed, kafka_ready

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
START = ROOT / "deploy" / "compose" / "kafka" / "start.sh"
# A refused client gets no metadata in this long; the admin gets it at once.
METADATA_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ComposeKafka:
    bootstrap: str
    secrets: Path
    config: Path
    log: Path

    def password(self, user: str) -> str:
        return (
            (self.secrets / f"kafka_{user.removeprefix('cityiot-')}_password").read_text().strip()
        )

    def client(self, user: str) -> dict[str, str]:
        return {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": SCRAM_MECHANISM,
            "sasl.username": user,
            "sasl.password": self.password(user),
        }


@pytest.fixture(scope="module")
def compose_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeKafka]:
    """start.sh as compose.yaml runs it, with loopback ports and this test's folders."""
    root = tmp_path_factory.mktemp("compose-kafka")
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700)
    for user in KAFKA_USERS:
        name = user.removeprefix("cityiot-")
        (secrets / f"kafka_{name}_password").write_text(f"{name}-{uuid.uuid4().hex}\n")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "CITYIOT_"))},
        "CLUSTER_ID": apache_kafka._cluster_id(),
        "KAFKA_ADVERTISED_HOST": "127.0.0.1",
        "KAFKA_BIND_HOST": "127.0.0.1",
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_DATA_DIR": str(root / "data"),
        "KAFKA_SECRETS_DIR": str(secrets),
        "KAFKA_HOME": str(root / "no-kafka-home"),
        "KAFKA_LIBS": str(apache_kafka.ensure_jars()),
        "KAFKA_CONFIG_DIR": str(root / "config"),
    }
    log = root / "kafka.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", str(START)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    kafka = ComposeKafka(f"127.0.0.1:{port}", secrets, root / "config", log)
    admin = {k: v for k, v in kafka.client("cityiot-admin").items() if k != "bootstrap.servers"}

    def ready() -> bool:
        assert proc.poll() is None, f"start.sh exited: {log.read_text(errors='replace')[-2000:]}"
        try:
            kafka_ready(kafka.bootstrap, security=admin)
        except ProbeFailed:
            return False
        return True

    try:
        eventually(ready, what="the compose Kafka serving its admin")
        yield kafka
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _acl_job(kafka: ComposeKafka, events: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")},
        "CITYIOT_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "CITYIOT_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CITYIOT_KAFKA_USERNAME": "cityiot-admin",
        "CITYIOT_KAFKA_PASSWORD_FILE": str(kafka.secrets / "kafka_admin_password"),
        "CITYIOT_KAFKA_EVENTS_TOPIC": events,
    }
    return subprocess.run(
        [sys.executable, "-m", "cityiot.access.kafka_acls_job"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_compose_kafka_acl_job_lets_the_collector_write_events_only(
    compose_kafka: ComposeKafka,
) -> None:
    """After the ACL job, the collector's SCRAM user (created at format) writes the events
    topic and is refused the alerts topic; the job says what it did, without a password."""
    events = f"events_{uuid.uuid4().hex[:8]}"
    job = _acl_job(compose_kafka, events)
    assert job.returncode == 0, job.stderr
    assert "ACLs in place" in job.stdout
    admin = AdminClient(compose_kafka.client("cityiot-admin"))
    for future in admin.create_topics([NewTopic(events, 1, 1)]).values():
        future.result()
    outcomes: dict[str, KafkaError | None] = {}
    producer = Producer({**compose_kafka.client("cityiot-collector"), "acks": "all"})
    for topic in (events, "city.alerts.v1"):
        producer.produce(
            topic, b"{}", b"d", on_delivery=lambda e, m: outcomes.__setitem__(m.topic(), e)
        )
    eventually(lambda: producer.poll(0.2) >= 0 and len(outcomes) == 2, what="both answered")
    assert outcomes[events] is None
    refused = outcomes["city.alerts.v1"]
    assert refused is not None
    assert refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    secrets = [compose_kafka.password(u) for u in KAFKA_USERS]
    assert all(s not in job.stdout + job.stderr for s in secrets)


def test_compose_kafka_refuses_anonymous(compose_kafka: ComposeKafka) -> None:
    """A client without SASL gets no metadata where the admin does."""
    assert AdminClient(compose_kafka.client("cityiot-admin")).list_topics(timeout=10).brokers
    anonymous = AdminClient({"bootstrap.servers": compose_kafka.bootstrap, "log_level": 0})
    with pytest.raises(KafkaException):
        anonymous.list_topics(timeout=METADATA_TIMEOUT_S)


def test_compose_kafka_keeps_passwords_in_0600_files_only(compose_kafka: ComposeKafka) -> None:
    """Generated configs are 0600, the format arguments file is gone, and no password is in the
    broker's output."""
    files = sorted(p.name for p in compose_kafka.config.iterdir())
    assert files == ["admin.properties", "server.properties"]
    assert {oct(p.stat().st_mode & 0o777) for p in compose_kafka.config.iterdir()} == {"0o600"}
    output = compose_kafka.log.read_text(errors="replace")
    assert all(compose_kafka.password(u) not in output for u in KAFKA_USERS)
