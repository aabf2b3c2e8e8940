"""Fixtures of the collector tests: a collector per test, publishers, topic readers, registries.

Everything talks to the session's real Mosquitto and Tansu. Each test gets its own MQTT topic
prefix, share group, client ids and Kafka topics, so tests (and other engineers' runs) on the same
servers never see each other's messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from collector_helpers import REGISTRY_CSV, Publisher, TopicReader

from core.settings import Settings


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    path = tmp_path / "registry.csv"
    path.write_text(REGISTRY_CSV)
    return path


@pytest.fixture
def collector_settings(settings: Settings, unique_name: str) -> Settings:
    """The session servers, this test's topics and prefix, a fast summary, no rate limit."""
    return settings.model_copy(
        update={
            "mqtt": settings.mqtt.model_copy(update={"topic_prefix": f"p{uuid.uuid4().hex[:10]}"}),
            "kafka": settings.kafka.model_copy(update={"partitions": 2}),
            "collector": settings.collector.model_copy(
                update={
                    "group": f"g_{unique_name}",
                    "client_id": f"c_{unique_name}",
                    "rate_limit_per_s": 0.0,
                    "summary_interval_s": 0.0,
                    "shutdown_timeout_s": 10.0,
                }
            ),
        }
    )


@pytest.fixture
def publisher(collector_settings: Settings) -> Iterator[Publisher]:
    pub = Publisher(collector_settings.mqtt.port)
    yield pub
    pub.close()


@pytest.fixture
def read_topic(collector_settings: Settings) -> Iterator[Callable[[str], TopicReader]]:
    readers: list[TopicReader] = []

    def make(topic: str) -> TopicReader:
        s = collector_settings.kafka
        reader = TopicReader(s.bootstrap_servers, topic, s.partitions)
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        reader.close()
