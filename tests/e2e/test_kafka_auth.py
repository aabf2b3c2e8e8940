"""Kafka with SASL/SCRAM and ACLs per service (InfluxDB with its own users beside it): nobody gets
in anonymously, the collector's user writes events and nothing else, and the whole platform,
each process as its own user, is still exact with no password in any log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.errors import TopicAuthorizationFailedError  # type: ignore[import-untyped]
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from tests_e2e_support import RUN, explain, finish, start
from tests_support import eventually

from cityiot.access import influx_users
from cityiot.access.kafka_users import (
    COLLECTOR_USER,
    KAFKA_USERS,
    NOTIFIER_USER,
    STREAMS_USER,
    KafkaAuth,
    apply_acls,
    service_acls,
    user_settings,
)
from cityiot.access.passwords import PasswordDir
from cityiot.local.platform import Platform
from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers
from collectors.kafka_sink import KafkaSink
from core.settings import Settings

LOCKED_RUN = replace(RUN, seed=RUN.seed + 11, duration=8.0)
# A refused client gets no metadata in this long; the admin, on the same listener, gets it at once.
METADATA_TIMEOUT_S = 5.0
# A consumer's group join and first fetch on a loaded 2-core machine; a hang still fails.
READ_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServers]:
    """Servers of this module's own: Kafka with SASL/SCRAM and ACLs, InfluxDB with auth."""
    root = tmp_path_factory.mktemp("locked")
    servers = LocalServers(
        run_dir=root / "servers",
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
        kafka_auth=KafkaAuth.in_directory(root / "kafka-auth"),
        influxdb_auth_dir=root / "influxdb-auth",
    )
    with servers:
        yield servers


def _settings(servers: LocalServers, run_dir: Path) -> Settings:
    """Settings of one test on the locked servers: topics, group and database of its own, the
    auth folders, and the ACLs and grants for them (as each test's own services would need)."""
    tag = uuid.uuid4().hex[:8]
    assert servers.kafka_auth is not None
    assert servers.influxdb_passwords is not None
    settings = Settings(
        mqtt={"url": servers.mqtt_url, "topic_prefix": f"city-{tag}"},
        kafka={
            "bootstrap_servers": servers.kafka_bootstrap,
            "events_topic": f"events_{tag}",
            "deadletter_topic": f"deadletter_{tag}",
            "alerts_topic": f"alerts_{tag}",
            "auth_dir": servers.kafka_auth.passwords.directory,
        },
        influxdb={
            "url": servers.influxdb_url,
            "database": f"db_{tag}",
            "auth_dir": servers.influxdb_passwords.directory,
        },
        stream={"app_id": f"streams_{tag}"},
        collector={"group": f"collectors_{tag}", "client_id": f"collector_{tag}"},
        run_dir=run_dir,
    )
    apply_acls(servers.kafka_admin_config(), service_acls(settings))
    influx_users.provision(
        servers.influxdb_url, settings.influxdb.database, servers.influxdb_passwords
    )
    return settings


def _as(settings: Settings, servers: LocalServers, user: str) -> dict[str, str]:
    """A librdkafka config of ``user``."""
    assert servers.kafka_auth is not None
    kafka = user_settings(settings.kafka, servers.kafka_auth.passwords, user)
    return {"bootstrap.servers": servers.kafka_bootstrap, **kafka.librdkafka_security()}


def test_kafka_auth_refuses_anonymous_and_wrong_password(locked: LocalServers) -> None:
    """No metadata for a client without SASL or with a wrong password; the admin gets it."""
    admin = AdminClient(locked.kafka_admin_config())
    assert admin.list_topics(timeout=METADATA_TIMEOUT_S).brokers
    anonymous = AdminClient({"bootstrap.servers": locked.kafka_bootstrap, "log_level": 0})
    with pytest.raises(KafkaException):
        anonymous.list_topics(timeout=METADATA_TIMEOUT_S)
    errors: list[KafkaError] = []
    wrong = AdminClient(
        {
            **locked.kafka_admin_config(),
            "sasl.password": "not-the-password",
            "log_level": 0,
            "error_cb": errors.append,
        }
    )
    with pytest.raises(KafkaException):
        wrong.list_topics(timeout=METADATA_TIMEOUT_S)

    def refused() -> bool:
        wrong.poll(0.2)  # serves error_cb
        return KafkaError._AUTHENTICATION in {e.code() for e in errors}

    eventually(refused, what="the wrong password refused as an authentication error")


def test_kafka_auth_collector_writes_events_only(locked: LocalServers, tmp_path: Path) -> None:
    """The collector's producer (its user) creates and writes the events topic; it may neither
    write the alerts topic nor read the events back."""
    settings = _settings(locked, tmp_path / "run")
    k = settings.kafka
    collector = _as(settings, locked, COLLECTOR_USER)
    sink = KafkaSink(
        bootstrap_servers=collector.pop("bootstrap.servers"),
        security=collector,
        client_id=f"collector-{uuid.uuid4().hex[:6]}",
        linger_ms=0,
        idempotent=True,
    )
    created = sink.ensure_topics([k.events_topic, k.deadletter_topic], partitions=2)
    assert sorted(created) == sorted([k.events_topic, k.deadletter_topic])
    outcomes: dict[str, KafkaError | None] = {}

    def on_delivery(topic: str) -> object:
        return lambda error, _message: outcomes.__setitem__(topic, error)

    sink.produce(k.events_topic, b"dev-1", b"{}", on_delivery(k.events_topic))
    sink.produce(k.alerts_topic, b"dev-1", b"{}", on_delivery(k.alerts_topic))

    def delivered() -> bool:
        sink.poll(0.2)
        return len(outcomes) == 2

    eventually(delivered, what="both records acknowledged or refused")
    assert outcomes[k.events_topic] is None
    refused = outcomes[k.alerts_topic]
    assert refused is not None
    assert refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert sink.flush(10) == 0

    consumer = Consumer(
        {**_as(settings, locked, COLLECTOR_USER), "group.id": f"g-{uuid.uuid4().hex[:6]}"}
    )
    try:
        consumer.assign([TopicPartition(k.events_topic, 0, OFFSET_BEGINNING)])
        seen: list[Message] = []

        def refused_read() -> bool:
            message = consumer.poll(0.5)
            if message is not None:
                seen.append(message)
            codes = {m.error().code() for m in seen if m.error() is not None}
            return KafkaError.TOPIC_AUTHORIZATION_FAILED in codes

        eventually(refused_read, what="the read refused for the collector's user")
        assert not any(m.error() is None for m in seen), "the collector's user read a record"
    finally:
        consumer.close()


def test_kafka_auth_platform_exact_with_a_user_per_service(
    locked: LocalServers, tmp_path: Path
) -> None:
    """Collector, worker and reconciliation as their own Kafka and InfluxDB users: exact, and no
    password of any user in any log."""
    settings = _settings(locked, tmp_path / "run")
    platform = Platform(settings, tmp_path / "platform")
    try:
        start(platform, LOCKED_RUN)
        result = finish(platform)
        assert result.exact, explain(result)
    finally:
        platform.stop()
    passwords = [
        (directory, user, PasswordDir(directory).password(user))
        for directory, users in (
            (settings.kafka.auth_dir, KAFKA_USERS),
            (settings.influxdb.auth_dir, influx_users.INFLUX_USERS),
        )
        if directory is not None
        for user in users
    ]
    logs = [p for root in (tmp_path / "platform", locked.run_dir) for p in root.rglob("*.log")]
    assert len(logs) >= 6  # collector, stream, simulator, mosquitto, kafka, influxdb
    for log in logs:
        text = log.read_text(errors="replace")
        for directory, user, secret in passwords:
            assert secret not in text, f"{user}'s password ({directory}) in {log}"


def test_kafka_auth_notifier_reads_alerts_only_over_aiokafka(
    locked: LocalServers, tmp_path: Path
) -> None:
    """aiokafka with the notifier's user (as `cityiot alerts run` connects): it reads the alert
    the workers' user wrote, in its own group; the events topic is refused to it."""
    settings = _settings(locked, tmp_path / "run")
    k = settings.kafka
    admin = AdminClient(locked.kafka_admin_config())
    for future in admin.create_topics(
        [NewTopic(t, 1, 1) for t in (k.alerts_topic, k.events_topic)]
    ).values():
        future.result()
    producer = Producer({**_as(settings, locked, STREAMS_USER), "acks": "all"})
    producer.produce(k.alerts_topic, b"alert", b"fingerprint")
    assert producer.flush(30) == 0
    assert locked.kafka_auth is not None
    notifier = user_settings(k, locked.kafka_auth.passwords, NOTIFIER_USER).aiokafka_security()

    async def read(topic: str) -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=k.bootstrap_servers,
            group_id=settings.alert.notifier_group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **notifier,
        )
        await consumer.start()
        try:
            # A fetch at a time until the first records: a cold group join takes seconds.
            deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
            while asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=1000)
                values = [record.value for records in batch.values() for record in records]
                if values:
                    return values
            return []
        finally:
            await consumer.stop()

    assert asyncio.run(read(k.alerts_topic)) == [b"alert"]
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(read(k.events_topic))
