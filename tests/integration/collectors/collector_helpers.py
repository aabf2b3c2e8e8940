"""Helpers of the collector tests (importable: conftest.py is not a module tests can import)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion
from tests_support import eventually

from collectors.service import Collector
from core.settings import Settings
from schemas.examples import EXAMPLES

# Generous: two cores shared with other engineers' test runs; a real hang still fails in minutes.
DEADLINE_S = 90.0
# paho refuses ~65,000 unacked QoS 1 publishes; far below that keeps memory small too.
PUBLISH_WINDOW = 2_000

REGISTRY_CSV = """\
device_id,facility,vendor,district_adcode,lat,lon,asset_type,expected_interval_s
VM-330203-0001,vending,ubox,330203,29.8683,121.5440,,300
RS-330212-0007,recycling,dabashou,330212,29.8160,121.5470,,600
EB-0042817,mobility,hellobike,330212,,,ebike,30
"""


def now_ts() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def payload(example: str, seq: int, **changes: Any) -> bytes:
    """A valid wire message of the named example, stamped now, with ``seq``."""
    return json.dumps({**EXAMPLES[example], "ts": now_ts(), "seq": seq, **changes}).encode()


def with_collector(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"collector": settings.collector.model_copy(update=changes)})


@contextmanager
def running(settings: Settings) -> Iterator[Collector]:
    """A collector in a thread, subscribed before the body runs, stopped cleanly after."""
    collector = Collector(settings)
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            collector.run(stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name=f"collector-{settings.collector.client_id}")
    thread.start()
    try:
        eventually(lambda: collector.source.subscribed.is_set() or bool(errors), what="subscribed")
        assert not errors, errors
        yield collector
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive(), "collector did not stop"
    assert not errors, errors


class Publisher:
    """A paho QoS 1 publisher with a bounded window of unacknowledged messages."""

    def __init__(self, port: int, *, client_id: str | None = None) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(PUBLISH_WINDOW)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish_all(self, messages: Iterable[tuple[str, bytes]], *, qos: int = 1) -> int:
        pending: list[mqtt.MQTTMessageInfo] = []
        sent = 0
        for topic, body in messages:
            pending.append(self.client.publish(topic, body, qos=qos))
            sent += 1
            if len(pending) >= PUBLISH_WINDOW:
                for info in pending:
                    info.wait_for_publish(DEADLINE_S)
                pending.clear()
        for info in pending:
            info.wait_for_publish(DEADLINE_S)
        return sent

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class TopicReader:
    """Reads a topic from the beginning over all partitions (``assign``: no group join wait)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
        self.consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
        )
        self.records: list[tuple[bytes, bytes]] = []

    def read_until(self, count: int, *, timeout: float = DEADLINE_S) -> list[tuple[bytes, bytes]]:
        """Records read so far, reading on until ``count`` (counting records, not watermarks)."""
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            for msg in self.consumer.consume(10_000, 0.2):
                if msg.error() is None:
                    self.records.append((msg.key() or b"", msg.value() or b""))
        return self.records

    def read_for(self, seconds: float) -> list[tuple[bytes, bytes]]:
        """Read whatever arrives within ``seconds``; returns every record read so far."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(10_000, 0.1):
                if msg.error() is None:
                    self.records.append((msg.key() or b"", msg.value() or b""))
        return self.records

    def drain(self, quiet_s: float = 1.0) -> list[tuple[bytes, bytes]]:
        """Read until nothing new arrives for ``quiet_s`` (to catch unexpected extra records)."""
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            batch = self.consumer.consume(10_000, 0.2)
            if batch:
                last = time.monotonic()
            self.records.extend((m.key() or b"", m.value() or b"") for m in batch if not m.error())
        return self.records

    def close(self) -> None:
        self.consumer.close()
