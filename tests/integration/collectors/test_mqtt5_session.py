"""The collector's MQTT 5 session against the real Mosquitto: redelivery, acks, Receive Maximum."""

from __future__ import annotations

import time

import pytest
from collector_helpers import Publisher
from tests_support import eventually

from collectors.metrics import CollectorStats
from collectors.mqtt5_session import Delivery, Mqtt5Session
from core.settings import Settings

pytestmark = pytest.mark.integration


def _session(settings: Settings, **collector: object) -> Mqtt5Session:
    return Mqtt5Session(
        mqtt_settings=settings.mqtt,
        collector=settings.collector.model_copy(update=collector),
        stats=CollectorStats(),
    )


def _take(session: Mqtt5Session, count: int) -> list[Delivery]:
    taken: list[Delivery] = []

    def enough() -> bool:
        taken.extend(session.receive(0.05))
        return len(taken) >= count

    eventually(enough, what=f"{count} messages from the broker")
    return taken


def test_mqtt5_session_redelivers_unacked_with_dup_and_refuses_stale_acks(
    collector_settings: Settings, publisher: Publisher
) -> None:
    """Unacked messages come back after a reconnect flagged redelivered; old acks are refused."""
    prefix = collector_settings.mqtt.topic_prefix
    session = _session(collector_settings)
    eventually(lambda: session.receive(0.05) == [] and session.subscribed.is_set(), what="SUBACK")
    topics = [f"{prefix}/vending/ubox/VM-{i}/telemetry" for i in range(3)]
    publisher.publish_all((t, f"m{i}".encode()) for i, t in enumerate(topics))
    first = _take(session, 3)
    assert [d[0].payload for d in first] == [b"m0", b"m1", b"m2"]
    assert not any(d[0].redelivered for d in first)
    old_generation = first[0][3]
    session._lost("test: connection dropped")  # as a network failure would, nothing acked
    again = _take(session, 3)
    assert sorted(d[0].payload for d in again) == [b"m0", b"m1", b"m2"]
    assert all(d[0].redelivered for d in again)
    # An ack of the dropped connection must not reach the new one.
    assert not session.ack(old_generation, first[0][1], 1)
    for inbound, mid, qos, generation in again:
        assert session.ack(generation, mid, qos), inbound.topic
    session.flush()
    session.stop()
    # Acked on the second connection: a third session under the same client id gets nothing.
    third = _session(collector_settings)
    deadline = time.monotonic() + 2.0
    late: list[Delivery] = []
    while time.monotonic() < deadline:
        late.extend(third.receive(0.1))
    third.stop()
    assert late == []


def test_mqtt5_session_receive_maximum_holds_the_rest(
    collector_settings: Settings, publisher: Publisher
) -> None:
    """With max_in_flight unacked, Mosquitto sends no more until an ack frees room."""
    prefix = collector_settings.mqtt.topic_prefix
    session = _session(collector_settings, max_in_flight=5)
    eventually(lambda: session.receive(0.05) == [] and session.subscribed.is_set(), what="SUBACK")
    publisher.publish_all((f"{prefix}/vending/ubox/VM-1/telemetry", b"%d" % i) for i in range(12))
    first = _take(session, 5)
    time.sleep(0.5)
    assert session.receive(0.2) == []  # the broker holds the other seven
    for _inbound, mid, qos, generation in first:
        session.ack(generation, mid, qos)
    session.flush()
    rest = _take(session, 7)
    assert [d[0].payload for d in first + rest] == [b"%d" % i for i in range(12)]
    session.stop()
