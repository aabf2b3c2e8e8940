"""The simulator against the session's real Mosquitto, counted by a plain MQTT subscriber."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from tests_support import eventually

from cityiot.local.runner import LocalServers
from collectors.pipeline import Inbound, Pipeline
from schemas import Envelope, load_registry
from simulator import RunOptions, Truth, run
from simulator.publisher import MqttTarget

pytestmark = pytest.mark.integration

# A SUBACK from the session's local Mosquitto takes milliseconds; this is for a loaded machine.
SUBSCRIBE_TIMEOUT_S = 10.0
# Long enough for a loaded CI machine to deliver a few thousand messages, short enough that a
# lost message fails the test quickly.
DELIVERY_TIMEOUT_S = 30.0
# After the count is reached, wait this long for any message beyond it (there must be none).
SETTLE_S = 0.5


class Subscriber:
    """A plain paho subscriber to ``city/#`` that keeps every live (non-retained) message."""

    def __init__(self, target: MqttTarget) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.subscribed = False
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-sim-sub-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: setattr(self, "subscribed", True)
        self.client.connect(target.host, target.port)
        self.client.loop_start()
        self.client.subscribe("city/#", qos=1)
        eventually(lambda: self.subscribed, what="SUBACK for city/#", timeout=SUBSCRIBE_TIMEOUT_S)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        # Retained messages of earlier tests arrive flagged on subscribe; live ones are not.
        if not msg.retain:
            self.received.append((msg.topic, bytes(msg.payload)))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def target(local_servers: LocalServers) -> MqttTarget:
    url = urlsplit(local_servers.mqtt_url)
    assert url.hostname is not None
    assert url.port is not None
    return MqttTarget(host=url.hostname, port=url.port)


@pytest.fixture
def subscriber(target: MqttTarget) -> Iterator[Subscriber]:
    sub = Subscriber(target)
    yield sub
    sub.close()


def test_run_subscriber_count_equals_truth(
    target: MqttTarget, subscriber: Subscriber, tmp_path: Path
) -> None:
    """Every acknowledged message (last wills included) reaches a subscriber, and no other."""
    options = RunOptions(
        devices=60,
        rate=0,
        count=3000,
        seed=5,
        bad_ratio=0.05,
        nmea_ratio=0.2,
        will_devices=2,
        registry_out=tmp_path / "registry.csv",
        truth_out=tmp_path / "truth.json",
    )
    truth = run(options, target)
    assert truth.unacked == 0
    assert truth.published == 3000 + 2 * 2  # the generated ones plus online + will per will device
    eventually(
        lambda: len(subscriber.received) >= truth.published,
        what=f"{truth.published} messages at the subscriber",
        timeout=DELIVERY_TIMEOUT_S,
    )
    time.sleep(SETTLE_S)
    assert len(subscriber.received) == truth.published
    assert Truth.model_validate_json((tmp_path / "truth.json").read_text()) == truth

    # What arrived, run through the collectors' pipeline (contract and registry binding) with
    # the written registry, matches the truth's labels.
    pipeline = Pipeline(
        collector_id="test", registry=load_registry(tmp_path / "registry.csv"), districts=None
    )
    received_at = datetime.now(UTC)
    reasons: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    for topic, payload in subscriber.received:
        routed = pipeline.route(Inbound(topic, payload, received_at, 0.0))
        if routed.reason is not None:
            reasons[routed.reason.value] += 1
            continue
        env = Envelope.model_validate_json(routed.value)
        channels[f"{env.facility.value}/{env.channel.value}"] += 1
    assert dict(reasons) == truth.rejected_by_reason
    assert dict(channels) == truth.valid_by_channel
    wills = [p for t, p in subscriber.received if b"connection_lost" in p and b'"seq":1' in p]
    assert len(wills) >= 2  # the broker published the real last wills
