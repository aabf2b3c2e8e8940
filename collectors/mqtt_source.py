"""The MQTT edge: a paho-mqtt 2.x client on a shared subscription, with manual acks.

Persistent session (clean start off, session expiry, stable client id), QoS 1, reconnect with
backoff and resubscribe on every connect. MQTT 5's Receive Maximum carries ``max_in_flight`` to
the broker, which then stops sending once that many messages wait for their ack: backpressure
without blocking paho's network thread (its keepalive keeps running).

Acks are tied to the connection a message came on. After a reconnect the broker redelivers what
was unacked, under the same packet ids; once it has one acked it may reuse the id for another
message, so a late ack from the old connection could acknowledge a message Kafka never got.
:meth:`MqttSource.ack` therefore refuses acks of an older connection (the message arrives again:
a counted duplicate, never a loss).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from collectors.metrics import CollectorStats
from collectors.pipeline import Inbound
from core.settings import MqttSettings
from core.settings.collector import CollectorSettings

__all__ = ["MessageHandler", "MqttSource"]

log = logging.getLogger(__name__)

# handler(message, mid, qos, connection generation); runs on paho's network thread.
MessageHandler = Callable[[Inbound, int, int, int], None]


class MqttSource:
    """One collector replica's MQTT session."""

    def __init__(
        self,
        *,
        mqtt_settings: MqttSettings,
        collector: CollectorSettings,
        handler: MessageHandler,
        stats: CollectorStats,
    ) -> None:
        self._settings = mqtt_settings
        self._collector = collector
        self._handler = handler
        self._stats = stats
        self.subscription = f"$share/{collector.group}/{mqtt_settings.topic_prefix}/#"
        self._v5 = mqtt_settings.protocol == "5"
        # Guards (connected, generation) against acks sent from the pump thread.
        self._lock = threading.Lock()
        self._generation = 0
        self._connected = False
        self._closing = False
        self.subscribed = threading.Event()
        # Native id of paho's network thread, once connected (for per-thread CPU accounting).
        self.network_thread: int | None = None
        self._client = self._make_client()

    # -- setup -------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s, c = self._settings, self._collector
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=c.client_id,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            # 3.1.1 only (MQTT 5 sets clean_start per connect): keep the session.
            clean_session=None if self._v5 else False,
            manual_ack=True,
        )
        if s.username is not None:
            client.username_pw_set(
                s.username, s.password.get_secret_value() if s.password else None
            )
        if s.tls:
            client.tls_set(
                ca_certs=str(s.tls_ca_file) if s.tls_ca_file else None,
                certfile=str(s.tls_cert_file) if s.tls_cert_file else None,
                keyfile=str(s.tls_key_file) if s.tls_key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.reconnect_delay_set(c.reconnect_min_delay_s, c.reconnect_max_delay_s)
        # paho's default of 20 unacked outgoing messages is irrelevant (we only publish acks),
        # but its incoming queue must not cap what the broker may send us.
        client.max_inflight_messages_set(c.max_in_flight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background; paho retries with backoff until the broker answers."""
        s, c = self._settings, self._collector
        properties: Properties | None = None
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = c.session_expiry_s
            properties.ReceiveMaximum = c.max_in_flight
        self._client.connect_async(
            s.host,
            s.port,
            keepalive=c.keepalive_s,
            clean_start=False if self._v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Send the PUBACKs already queued, then DISCONNECT (the session stays on the broker)."""
        with self._lock:
            self._closing = True
        self._client.disconnect()
        self._client.loop_stop()

    # -- acks --------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """Increments at every connect and disconnect."""
        return self._generation

    @property
    def connected(self) -> bool:
        return self._connected

    def ack(self, generation: int, mid: int, qos: int) -> bool:
        """PUBACK ``mid`` if it came on the current connection; False if that one is gone."""
        with self._lock:
            if not self._connected or generation != self._generation:
                return False
            # Queued for paho's network thread; a reconnect clears that queue, and it runs
            # only after on_disconnect took this lock, so no stale ack reaches a new connection.
            self._client.ack(mid, qos)
            return True

    def wait_subscribed(self, timeout: float) -> bool:
        return self.subscribed.wait(timeout)

    # -- paho callbacks (network thread) -----------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning(
                "mqtt connect refused url=%s reason=%r", self._settings.url, str(reason_code)
            )
            return
        with self._lock:
            self._generation += 1
            self._connected = True
        self.network_thread = threading.get_native_id()
        self._stats.mqtt_connects += 1
        log.info(
            "mqtt connected url=%s client_id=%s session_present=%s",
            self._settings.url,
            self._collector.client_id,
            flags.session_present,
        )
        # Always resubscribe: a broker that lost its state (no persistence, expired session)
        # would otherwise send nothing, silently.
        options = SubscribeOptions(qos=1)
        result, _ = client.subscribe(self.subscription, options=options)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.warning("mqtt subscribe not sent rc=%s", result)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("mqtt subscribe refused topic=%r reasons=%s", self.subscription, failed)
            return
        log.info("mqtt subscribed topic=%r", self.subscription)
        self.subscribed.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        with self._lock:
            self._generation += 1
            was_connected, self._connected = self._connected, False
            closing = self._closing
        self.subscribed.clear()
        if not closing and was_connected:
            log.warning(
                "mqtt disconnected url=%s reason=%r (reconnecting)",
                self._settings.url,
                str(reason_code),
            )

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            # Brokers refuse such topics; if one slips through it is dead-lettered, not dropped.
            topic = msg._topic.decode("utf-8", "replace")
        inbound = Inbound(
            topic, bytes(msg.payload), datetime.now(UTC), time.monotonic(), bool(msg.dup)
        )
        self._handler(inbound, msg.mid, msg.qos, self._generation)
