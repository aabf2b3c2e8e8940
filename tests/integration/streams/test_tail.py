"""Reading a changelog partition's tail on the real broker: the last records, in offset order."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from core.settings import Settings
from streams.tail import TAIL_RECORDS, read_tail

pytestmark = pytest.mark.integration


def _topic(settings: Settings, name: str) -> str:
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
    for future in admin.create_topics([NewTopic(name, 1, 1)]).values():
        future.result(30)
    return name


def test_read_tail_returns_the_last_records_up_to_the_watermark(
    settings: Settings, unique_name: str, kafka_kind: str
) -> None:
    """2,500 records: the last TAIL_RECORDS come back, in offset order, deletions as None.

    Tansu's reported watermark can trail what it has written (FACTS.md), so there the read starts
    earlier and returns more: still an unbroken run of the newest records, to the very last."""
    topic = _topic(settings, f"tail-{unique_name}")
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
    total = TAIL_RECORDS + 500
    for i in range(total):
        value = None if i == total - 1 else f"v{i}".encode()
        producer.produce(topic, key=f"k{i % 300}".encode(), value=value)
    assert producer.flush(30) == 0
    config = {"bootstrap.servers": settings.kafka.bootstrap_servers}
    tail = read_tail(config, settings.stream.app_id, topic, 0)
    if kafka_kind == "apache":
        assert len(tail) == TAIL_RECORDS
    else:
        assert TAIL_RECORDS <= len(tail) <= total
    first = total - len(tail)
    expected = [
        (f"k{i % 300}".encode(), None if i == total - 1 else f"v{i}".encode())
        for i in range(first, total)
    ]
    assert tail == expected


def test_read_tail_of_an_empty_partition_is_empty(settings: Settings, unique_name: str) -> None:
    """Nothing written: nothing read, at once."""
    topic = _topic(settings, f"tail-empty-{unique_name}")
    config = {"bootstrap.servers": settings.kafka.bootstrap_servers}
    assert read_tail(config, settings.stream.app_id, topic, 0) == []
