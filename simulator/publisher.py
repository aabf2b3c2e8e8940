"""MQTT side of the simulator: one paho MQTT 5 client publishing at QoS 1, paced and bounded.

Everything runs in the thread that calls :meth:`Publisher.publish` (paho without its own network
thread): a publish writes to the socket at once and acknowledgements are read between publishes,
which avoids a thread switch per message. At most ``window`` messages are unacknowledged (paho
refuses beyond ~65,000, FACTS.md); a message counts as published when its PUBACK arrives.

Last wills: one connection carries every simulated device, so the broker cannot publish a will per
device (``simulator.faults`` explains what stands in for them). :class:`WillDevices` shows the
real mechanism with a few devices on connections of their own: each connects with a will
(``status`` offline, reason ``connection_lost``), announces itself online, and at the end of the
run drops its TCP connection without DISCONNECT, so the broker publishes the will.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.errors import CityiotError
from simulator.message import SimMessage

__all__ = ["MqttTarget", "PublishError", "Publisher", "WillDevices"]

log = logging.getLogger(__name__)

# Unacknowledged QoS 1 messages in flight: at ~10,000 msg/s and a loopback round trip well under
# 10 ms, 1,000 keeps the pipe full; far below paho's ~65,000 limit.
DEFAULT_WINDOW = 1000
# Read acknowledgements every this many publishes (a select() per message would halve throughput).
ACK_POLL_EVERY = 64
CONNECT_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 30.0
KEEPALIVE_S = 30


class PublishError(CityiotError):
    """The broker refused the connection or the connection broke during the run."""


@dataclass(frozen=True, slots=True)
class MqttTarget:
    """Where and how to connect (from ``core.settings.MqttSettings``)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


def _client(target: MqttTarget, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    if target.username is not None:
        client.username_pw_set(target.username, target.password)
    if target.tls:
        client.tls_set(
            ca_certs=target.ca_file,
            certfile=target.cert_file,
            keyfile=target.key_file,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    return client


def _connect(client: mqtt.Client, target: MqttTarget, connected: Callable[[], bool]) -> None:
    try:
        client.connect(target.host, target.port, keepalive=KEEPALIVE_S)
    except OSError as exc:
        raise PublishError(
            f"cannot reach the MQTT broker at {target.host}:{target.port}: {exc} "
            "(is it running? `cityiot services up`; else set CITYIOT_MQTT_URL)"
        ) from None
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while not connected():
        if time.monotonic() > deadline:
            raise PublishError(f"no CONNACK from {target.host}:{target.port} within 10 s")
        rc = client.loop(timeout=0.05)
        if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            raise PublishError(f"MQTT connect to {target.host}:{target.port} failed: {rc.name}")


class Publisher:
    """Publishes :class:`SimMessage` s at QoS 1 and calls ``on_ack`` for each acknowledged one."""

    def __init__(
        self,
        target: MqttTarget,
        *,
        on_ack: Callable[[SimMessage], None],
        window: int = DEFAULT_WINDOW,
        client_id: str | None = None,
    ) -> None:
        if not 1 <= window <= 60_000:
            raise ValueError("window must be within 1..60000 (paho's queue limit is ~65,000)")
        self.target = target
        self.window = window
        self.on_ack = on_ack
        self.pending: dict[int, SimMessage] = {}
        self.acked = 0
        self._since_poll = 0
        self._refused: str | None = None
        self._connected = False
        self._client = _client(target, client_id or f"cityiot-simulator-{uuid.uuid4().hex[:8]}")
        # 0 = unlimited inside paho: our own window bounds what is in flight, and paho's bookkeeping
        # for a limit scans every unacknowledged message after each PUBACK (O(window) per ack).
        self._client.max_inflight_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._client.on_disconnect = self._on_disconnect

    def __enter__(self) -> Publisher:
        _connect(self._client, self.target, self._is_connected)
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop(timeout=0.1)

    def _is_connected(self) -> bool:
        if self._refused is not None:
            raise PublishError(self._refused)
        return self._connected

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, props: Properties | None
    ) -> None:
        if rc.is_failure:
            self._refused = f"the MQTT broker refused the connection: {rc}"
            return
        # MQTT 5: the broker says how many unacknowledged QoS 1 messages it accepts (Mosquitto:
        # max_inflight_messages, default 20); paho does not enforce it, exceeding it disconnects.
        receive_maximum = getattr(props, "ReceiveMaximum", None)
        if isinstance(receive_maximum, int) and receive_maximum < self.window:
            log.info("window=%d limited by broker receive_maximum=%d", self.window, receive_maximum)
            self.window = receive_maximum
        self._connected = True

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None
    ) -> None:
        self._connected = False

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: Properties | None
    ) -> None:
        msg = self.pending.pop(mid, None)
        if msg is not None:
            self.acked += 1
            self.on_ack(msg)

    def publish(self, msg: SimMessage) -> None:
        """Send one message; blocks while ``window`` messages await their PUBACK.

        Raises:
            PublishError: The connection is gone.
        """
        while len(self.pending) >= self.window:
            self._poll(0.01)
        info = self._client.publish(msg.topic, msg.payload, qos=1, retain=msg.retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            raise PublishError(f"publish failed: {info.rc.name} (connection lost?)")
        # No network thread: the PUBACK can only be read in _poll, after this line.
        self.pending[info.mid] = msg
        self._since_poll += 1
        if self._since_poll >= ACK_POLL_EVERY:
            self._poll(0.0)

    def _poll(self, timeout: float) -> None:
        self._since_poll = 0
        rc = self._client.loop(timeout=timeout)
        if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            raise PublishError(
                f"MQTT connection lost ({rc.name}) with {len(self.pending)} messages unacknowledged"
            )

    def idle(self, seconds: float) -> None:
        """Wait ``seconds`` (pacing) while reading acknowledgements."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._poll(left)

    def drain(self, timeout: float = DRAIN_TIMEOUT_S) -> int:
        """Wait for outstanding acknowledgements; returns how many never came."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            self._poll(0.01)
        return len(self.pending)


class WillDevices:
    """Devices on their own connections whose MQTT last will the broker really publishes.

    ``pairs`` holds, per device, its online announcement and its will (both valid ``status``
    messages, seq 0 and 1; the will carries its connect time as ``ts``, which ``decode`` allows
    for status).
    """

    def __init__(
        self,
        target: MqttTarget,
        pairs: list[tuple[SimMessage, SimMessage]],
        *,
        on_ack: Callable[[SimMessage], None],
    ) -> None:
        self.target = target
        self.pairs = pairs
        self.on_ack = on_ack
        self._clients: list[tuple[mqtt.Client, SimMessage]] = []

    def connect(self) -> None:
        for online, will in self.pairs:
            one = _WillClient(self.target, online.device_id)
            one.client.will_set(will.topic, will.payload, qos=1, retain=True)
            _connect(one.client, self.target, one.is_connected)
            one.client.publish(online.topic, online.payload, qos=1, retain=True)
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while not one.acked and time.monotonic() < deadline:
                one.client.loop(timeout=0.05)
            if not one.acked:
                raise PublishError(f"no PUBACK for {online.device_id}'s online status")
            self.on_ack(online)
            self._clients.append((one.client, will))

    def drop(self) -> None:
        """Cut each connection without DISCONNECT: the broker publishes the wills."""
        for client, will in self._clients:
            sock = client.socket()
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.on_ack(will)  # published by the broker, not by us: counted as sent
        self._clients.clear()


class _WillClient:
    """One will device's connection and the two events it waits for."""

    def __init__(self, target: MqttTarget, device_id: str) -> None:
        self.connected = False
        self.acked = False
        # A fresh id per run: two runs on one broker must not resume each other's sessions.
        self.client = _client(target, f"cityiot-sim-will-{device_id}-{uuid.uuid4().hex[:6]}")
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish

    def is_connected(self) -> bool:
        return self.connected

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None
    ) -> None:
        self.connected = not rc.is_failure

    def _on_publish(
        self, _c: mqtt.Client, _u: object, _mid: int, _rc: ReasonCode, _p: Properties | None
    ) -> None:
        self.acked = True
