"""The gateway's MQTT side: one paho client, QoS 1, each publish awaited until its PUBACK.

paho runs its own network thread (``loop_start``): it reconnects by itself and resends
unacknowledged messages, and a publish from the event loop only queues bytes. PUBACKs resolve
the asyncio futures of their messages on the loop, so a session answers its terminal only once
the broker holds the message (the terminal resends otherwise). Cost matters at thousands of
reports a second (bench/jt808.py): paho's own in-flight limit scans every unacknowledged message
at each PUBACK, so it is off and a semaphore bounds what is in flight instead; and PUBACKs that
arrive together wake the loop once, not once each.

As one client carries every terminal, the broker cannot publish a last will per terminal: the
sessions publish each terminal's ``offline`` status themselves when its connection ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.errors import CityiotError
from core.settings import MqttSettings

__all__ = ["MqttPublisher", "PublishError"]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
KEEPALIVE_S = 30
# Unacknowledged messages at once; lowered to the broker's receive maximum (MQTT 5) when it
# announces one, since exceeding that makes the broker disconnect. 1,000 keeps a loopback or LAN
# link full at several thousand messages a second.
MAX_IN_FLIGHT = 1000


class PublishError(CityiotError):
    """The broker cannot be reached or refused the connection."""


class MqttPublisher:
    """Publishes at QoS 1 from an asyncio loop; ``await publish(...)`` returns at the PUBACK."""

    def __init__(self, settings: MqttSettings, *, client_id: str | None = None) -> None:
        self._settings = settings
        protocol = (
            MQTTProtocolVersion.MQTTv5 if settings.protocol == "5" else MQTTProtocolVersion.MQTTv311
        )
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"cityiot-gateway-{uuid.uuid4().hex[:8]}",
            protocol=protocol,
        )
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else None
            self._client.username_pw_set(settings.username, password)
        if settings.tls:
            self._client.tls_set(
                ca_certs=str(settings.tls_ca_file) if settings.tls_ca_file else None,
                certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
                keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        # 0 = no limit inside paho (its bookkeeping for one is O(in flight) per PUBACK).
        self._client.max_inflight_messages_set(0)
        self._window_size = MAX_IN_FLIGHT
        self._window: asyncio.Semaphore | None = None
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._client.on_disconnect = self._on_disconnect
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected: asyncio.Event | None = None
        self._refused: str | None = None
        self._stopping = False
        # mid → future; PUBACKs that came before publish() returned the mid (paho's thread can
        # be faster than the caller), so neither side misses the other.
        self._lock = threading.Lock()
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._early: set[int] = set()
        # Futures acknowledged by the broker, resolved by the loop in one batch.
        self._acked: list[asyncio.Future[None]] = []

    async def start(self) -> None:
        """Connect and start paho's thread; returns at the CONNACK.

        Raises:
            PublishError: No broker there, or it refused the connection, within 10 s.
        """
        self._loop = asyncio.get_running_loop()
        self._connected = asyncio.Event()
        s = self._settings
        try:
            self._client.connect(s.host, s.port, keepalive=KEEPALIVE_S)
        except OSError as exc:
            raise PublishError(
                f"cannot reach the MQTT broker at {s.host}:{s.port}: {exc} "
                "(is it running? `cityiot services up`; else set CITYIOT_MQTT_URL)"
            ) from None
        self._client.loop_start()
        try:
            await asyncio.wait_for(self._connected.wait(), CONNECT_TIMEOUT_S)
        except TimeoutError:
            self.stop()
            raise PublishError(
                self._refused or f"no CONNACK from {s.host}:{s.port} within 10 s"
            ) from None
        self._window = asyncio.Semaphore(self._window_size)

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected is not None and self._connected.is_set()

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Send at QoS 1 and wait for the broker's PUBACK (cancel the wait to give up on it:
        paho still delivers the message)."""
        assert self._loop is not None, "start() first"
        assert self._window is not None
        async with self._window:
            future: asyncio.Future[None] = self._loop.create_future()
            info = self._client.publish(topic, payload, qos=1, retain=retain)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                # NO_CONN: queued by paho, sent after the reconnect.
                raise PublishError(f"publish to {topic!r} failed: {info.rc.name}")
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    future.set_result(None)
                else:
                    self._pending[info.mid] = future
            try:
                await future
            finally:
                with self._lock:
                    self._pending.pop(info.mid, None)

    def _resolve_acked(self) -> None:
        with self._lock:
            acked, self._acked = self._acked, []
        for future in acked:
            if not future.done():
                future.set_result(None)

    # paho's thread from here on.

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, _rc: ReasonCode, _p: Properties | None
    ) -> None:
        with self._lock:
            future = self._pending.pop(mid, None)
            if future is None:
                self._early.add(mid)
                return
            self._acked.append(future)
            first = len(self._acked) == 1
        if first:  # else a wake-up is already on its way and takes this one too
            self._call(self._resolve_acked)

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, props: Properties | None
    ) -> None:
        assert self._loop is not None
        assert self._connected is not None
        if rc.is_failure:
            self._refused = f"the MQTT broker refused the connection: {rc}"
            log.warning("mqtt connect refused reason=%r", str(rc))
            return
        receive_maximum = getattr(props, "ReceiveMaximum", None)
        if isinstance(receive_maximum, int) and receive_maximum < MAX_IN_FLIGHT:
            self._window_size = receive_maximum
        self._call(self._connected.set)

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None
    ) -> None:
        assert self._loop is not None
        assert self._connected is not None
        if not self._stopping:
            log.warning("mqtt disconnected reason=%r (paho reconnects)", str(rc))
        self._call(self._connected.clear)

    def _call(self, callback: Callable[..., object], *args: object) -> None:
        assert self._loop is not None
        # RuntimeError: the loop has closed (the last disconnect at shutdown); nobody waits.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)
