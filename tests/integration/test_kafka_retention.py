"""The local Apache Kafka honours retention: old records go, by age and by size, so a local run
left going does not grow without bound (Tansu, memory-only, kept every record)."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from tests_support import eventually

from cityiot.local.plans import KafkaKind
from cityiot.local.runner import LocalServers

# The broker deletes expired segments on its retention check, every minute
# (log.retention.check.interval.ms, cityiot/local/apache_kafka.py), the first one 30 s after
# it started: two checks' worth, and a deletion that never comes still fails.
RETENTION_DEADLINE_S = 150.0
# The smallest segment Kafka 4 accepts (segment.bytes); retention by size deletes whole ones.
SEGMENT_BYTES = 1024 * 1024
RECORD = b"x" * 1024
# Four segments' worth: retention by size must delete at least one.
SIZE_RECORDS = 4 * SEGMENT_BYTES // len(RECORD)
AGE_RECORDS = 100
ADMIN_TIMEOUT_S = 30.0


@pytest.fixture
def apache(local_servers: LocalServers, kafka_kind: KafkaKind) -> LocalServers:
    """The session's servers, when their Kafka is Apache Kafka (Tansu keeps no retention)."""
    if kafka_kind != "apache":
        pytest.skip("Tansu has no retention: it keeps every record in memory")
    return local_servers


def _produce(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        while True:
            try:
                producer.produce(topic, key=str(i).encode(), value=RECORD)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(ADMIN_TIMEOUT_S) == 0


def _watermarks(bootstrap: str, topic: str) -> tuple[int, int]:
    """(log start offset, high watermark) of the topic's one partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return int(low), int(high)
    finally:
        consumer.close()


def test_kafka_retention_default_is_bounded(apache: LocalServers, unique_name: str) -> None:
    """A topic created with no settings of its own keeps six hours or 1 GiB per partition."""
    admin = AdminClient(apache.kafka_admin_config())
    topic = f"defaults_{unique_name}"
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(ADMIN_TIMEOUT_S)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(ADMIN_TIMEOUT_S)
    assert configs["retention.ms"].value == str(6 * 3600 * 1000)
    assert configs["retention.bytes"].value == str(1024**3)
    assert configs["cleanup.policy"].value == "delete"


def test_kafka_retention_deletes_old_records_by_age_and_size(
    apache: LocalServers, unique_name: str
) -> None:
    """Records older than retention.ms, and segments beyond retention.bytes, are deleted: the
    log start offset advances past them."""
    bootstrap = apache.kafka_bootstrap
    admin = AdminClient(apache.kafka_admin_config())
    by_age, by_size = f"age_{unique_name}", f"size_{unique_name}"
    topics = [
        # A second: everything produced below is expired by the next retention check.
        NewTopic(by_age, 1, 1, config={"retention.ms": "1000", "segment.ms": "1000"}),
        NewTopic(
            by_size,
            1,
            1,
            config={"retention.bytes": str(SEGMENT_BYTES), "segment.bytes": str(SEGMENT_BYTES)},
        ),
    ]
    for future in admin.create_topics(topics).values():
        future.result(ADMIN_TIMEOUT_S)
    _produce(bootstrap, by_age, AGE_RECORDS)
    _produce(bootstrap, by_size, SIZE_RECORDS)
    assert _watermarks(bootstrap, by_age) == (0, AGE_RECORDS)
    assert _watermarks(bootstrap, by_size) == (0, SIZE_RECORDS)

    eventually(
        lambda: _watermarks(bootstrap, by_age) == (AGE_RECORDS, AGE_RECORDS),
        what=f"every record of {by_age} deleted once older than retention.ms",
        timeout=RETENTION_DEADLINE_S,
    )

    def size_trimmed() -> tuple[int, int]:
        low, high = _watermarks(bootstrap, by_size)
        assert low > 0, f"log start offset still 0 of {high}"
        return low, high

    low, high = eventually(
        size_trimmed,
        what=f"the oldest segments of {by_size} deleted beyond retention.bytes",
        timeout=RETENTION_DEADLINE_S,
    )
    assert high == SIZE_RECORDS
    # What is left is about retention.bytes (plus the active segment), not all of it.
    assert (high - low) * len(RECORD) <= 2 * SEGMENT_BYTES
