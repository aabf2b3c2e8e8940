"""Fixtures shared by every test: the real local servers, started once per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityiot.local.plans import KafkaKind
from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers
from core.settings import Settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kafka",
        choices=("apache", "tansu"),
        default="apache",
        help="Which local Kafka the session's servers run: Apache Kafka (default) or Tansu.",
    )


@pytest.fixture(scope="session")
def kafka_kind(pytestconfig: pytest.Config) -> KafkaKind:
    """The Kafka the session runs (``--kafka``); a test of a broker's own behaviour reads it."""
    kind: KafkaKind = pytestconfig.getoption("--kafka")
    return kind


@pytest.fixture(scope="session")
def local_servers(
    tmp_path_factory: pytest.TempPathFactory, kafka_kind: KafkaKind
) -> Iterator[LocalServers]:
    """Mosquitto, Kafka and InfluxDB on free loopback ports, through `cityiot services`' own code.

    A missing server fails the session (no skip): these tests exist to talk to the real thing.
    """
    servers = LocalServers(
        run_dir=tmp_path_factory.mktemp("services"),
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
        kafka=kafka_kind,
    )
    with servers:
        yield servers


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test uses: test name plus a random part (topics, groups, databases)."""
    base = "".join(c if c.isalnum() else "_" for c in request.node.name)[:40]
    return f"{base}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings(local_servers: LocalServers, unique_name: str, tmp_path: Path) -> Settings:
    """Settings pointing at the session's servers, with topics and a database of this test's own."""
    return Settings(
        # Retained status messages outlive a test, and Mosquitto hands them to every new
        # subscription: a topic prefix of its own keeps one test's devices out of the next.
        mqtt={"url": local_servers.mqtt_url, "topic_prefix": f"city-{uuid.uuid4().hex[:8]}"},
        kafka={
            "bootstrap_servers": local_servers.kafka_bootstrap,
            "events_topic": f"events_{unique_name}",
            "deadletter_topic": f"deadletter_{unique_name}",
            "alerts_topic": f"alerts_{unique_name}",
        },
        influxdb={"url": local_servers.influxdb_url, "database": f"db_{unique_name}"},
        # Faust names changelog topics after the app id, and MQTT sessions follow the client id:
        # shared names would hand one test's dedup state or session backlog to the next.
        stream={"app_id": f"streams_{unique_name}"},
        collector={"group": f"collectors_{unique_name}", "client_id": f"collector_{unique_name}"},
        run_dir=tmp_path / "run",
    )
