"""The MQTT 5 edge: a subscriber session over the ``mqtt5`` codec, driven by the collector's loop.

paho-mqtt parses one packet per turn of its network thread and builds a ``Properties`` object per
PUBLISH: ~55 µs of CPU per message here (FACTS.md), more than the rest of the collector. This
session reads whatever the socket holds (up to ``RECV_BYTES``) and parses every packet in it with
``mqtt5`` (Rust, by aiomqtt's author: ~0.7 µs a PUBLISH), and sends the PUBACKs that became due
in one write. It has no thread of its own: :meth:`Mqtt5Session.receive` is called by the
collector's single loop, which also serves Kafka's delivery reports, so messages, acks and
deliveries never cross threads.

What the session keeps from MQTT 5 (as the paho edge did): a persistent session (clean start
off, ``session_expiry_s``, the stable client id), QoS 1, Receive Maximum = ``max_in_flight`` (the
broker stops sending once that many wait for their PUBACK: backpressure without blocking), a
shared subscription renewed on every connect, keepalive pings, reconnects with doubling backoff.
PUBACKs belong to the connection their message came on: after a reconnect the broker redelivers
what was unacked under the same packet ids, so an ack of an older connection is refused
(:meth:`Mqtt5Session.ack` returns False: the message arrives again, a counted duplicate, never a
loss). MQTT 3.1.1 brokers are served by :mod:`collectors.mqtt_source` (paho).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from datetime import UTC, datetime

import mqtt5

from collectors.metrics import CollectorStats
from collectors.pipeline import Inbound
from core.settings import MqttSettings
from core.settings.collector import CollectorSettings

__all__ = ["Delivery", "Mqtt5Session"]

log = logging.getLogger(__name__)

# One read takes what the kernel holds, up to this: ~1,000 device messages at a time.
RECV_BYTES = 256 * 1024
# TCP connect plus CONNACK: a broker that takes longer is retried with backoff.
CONNECT_TIMEOUT_S = 10.0
# A write that cannot complete for this long means a dead connection (the kernel buffer is full
# and the broker reads nothing): reconnect rather than block the loop.
SEND_TIMEOUT_S = 10.0
# After DISCONNECT, how long to wait for the broker to close the connection.
CLOSE_TIMEOUT_S = 2.0
_SUBSCRIBE_ID = 1

# (message, packet id, QoS, connection generation)
Delivery = tuple[Inbound, int, int, int]


class SessionLost(Exception):
    """The connection broke; the session reconnects (internal)."""


class Mqtt5Session:
    """One collector replica's MQTT 5 session; not thread-safe: one loop drives it."""

    def __init__(
        self,
        *,
        mqtt_settings: MqttSettings,
        collector: CollectorSettings,
        stats: CollectorStats,
    ) -> None:
        self._settings = mqtt_settings
        self._collector = collector
        self._stats = stats
        self.subscription = f"$share/{collector.group}/{mqtt_settings.topic_prefix}/#"
        self.subscribed = threading.Event()
        #: Native id of the thread driving the session (for per-thread CPU accounting).
        self.network_thread: int | None = None
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._out = bytearray()
        self._generation = 0
        self._connected = False
        self._delay = float(collector.reconnect_min_delay_s)
        self._next_attempt = 0.0
        self._last_sent = 0.0
        self._ping_sent: float | None = None
        self._failures = 0

    # -- state -------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """Increments at every connect and disconnect."""
        return self._generation

    @property
    def connected(self) -> bool:
        return self._connected

    def wait_subscribed(self, timeout: float) -> bool:
        return self.subscribed.wait(timeout)

    # -- the loop's calls --------------------------------------------------------------------
    def receive(self, timeout: float) -> list[Delivery]:
        """Messages that arrived within ``timeout`` s (connecting first if needed)."""
        if not self._connected:
            now = time.monotonic()
            if now < self._next_attempt:
                time.sleep(min(timeout, self._next_attempt - now))
                return []
            self._connect()
            if not self._connected:
                return []
        try:
            self._keepalive(time.monotonic())
            data = self._read(timeout)
            return self._parse(data) if data else []
        except SessionLost as exc:
            self._lost(str(exc))
            return []

    def ack(self, generation: int, mid: int, qos: int) -> bool:
        """Queue the PUBACK of ``mid`` if it came on the current connection (sent by ``flush``)."""
        if not self._connected or generation != self._generation:
            return False
        if qos:
            self._out += mqtt5.PubAckPacket(mid).write()
        return True

    def flush(self) -> None:
        """Send the queued PUBACKs, in the order they were queued (MQTT wants arrival order)."""
        if not self._out or self._sock is None:
            return
        try:
            self._send(bytes(self._out))
        except SessionLost as exc:
            self._lost(str(exc))
        finally:
            self._out.clear()

    def stop(self) -> None:
        """Send the PUBACKs already queued, then DISCONNECT (the session stays on the broker)."""
        if self._sock is None:
            return
        self.flush()
        with contextlib.suppress(SessionLost):
            self._send(mqtt5.DisconnectPacket().write())
            self._drain_until_closed()
        self._close()
        self._generation += 1
        self._connected = False

    # -- connection --------------------------------------------------------------------------
    def _connect(self) -> None:
        s, c = self._settings, self._collector
        try:
            sock = socket.create_connection((s.host, s.port), timeout=CONNECT_TIMEOUT_S)
            if s.tls:
                sock = self._tls_context().wrap_socket(sock, server_hostname=s.host)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connect = mqtt5.ConnectPacket(
                c.client_id,
                username=s.username,
                password=s.password.get_secret_value().encode() if s.password else None,
                clean_start=False,
                keep_alive=c.keepalive_s,
                session_expiry_interval=c.session_expiry_s,
                receive_max=c.max_in_flight,
            )
            sock.sendall(connect.write())
            connack, rest = _read_connack(sock)
        except (OSError, SessionLost) as exc:
            self._retry_later(f"connect failed url={s.url} error={_describe(exc)}")
            return
        if connack.reason_code != mqtt5.ConnAckReasonCode.SUCCESS:
            sock.close()
            self._retry_later(f"mqtt connect refused url={s.url} reason={connack.reason_code.name}")
            return
        sock.setblocking(False)
        self._sock = sock
        self._buffer = rest
        self._generation += 1
        self._connected = True
        self._failures = 0
        self._delay = float(c.reconnect_min_delay_s)
        self._last_sent = time.monotonic()
        self._ping_sent = None
        self.network_thread = threading.get_native_id()
        self._stats.mqtt_connects += 1
        log.info(
            "mqtt connected url=%s client_id=%s session_present=%s",
            s.url,
            c.client_id,
            connack.session_present,
        )
        # Always resubscribe: a broker that lost its state (no persistence, expired session)
        # would otherwise send nothing, silently.
        subscribe = mqtt5.SubscribePacket(
            _SUBSCRIBE_ID,
            [mqtt5.TopicFilter(self.subscription, max_qos=mqtt5.QoS.AT_LEAST_ONCE)],
        )
        try:
            self._send(subscribe.write())
        except SessionLost as exc:
            self._lost(str(exc))

    def _tls_context(self) -> ssl.SSLContext:
        s = self._settings
        context = ssl.create_default_context(cafile=str(s.tls_ca_file) if s.tls_ca_file else None)
        if s.tls_cert_file is not None:
            context.load_cert_chain(
                str(s.tls_cert_file), str(s.tls_key_file) if s.tls_key_file else None
            )
        return context

    def _retry_later(self, reason: str) -> None:
        self._failures += 1
        # The first failure and then every tenth: a broker down for an hour is not 3,600 lines.
        if self._failures == 1 or self._failures % 10 == 0:
            log.warning("%s (retrying in %.0f s, attempt %d)", reason, self._delay, self._failures)
        self._next_attempt = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, float(self._collector.reconnect_max_delay_s))

    def _lost(self, reason: str) -> None:
        was_connected = self._connected
        self._close()
        self._generation += 1
        self._connected = False
        self.subscribed.clear()
        self._out.clear()  # acks of the lost connection must not reach the next one
        if was_connected:
            log.warning(
                "mqtt disconnected url=%s reason=%r (reconnecting)", self._settings.url, reason
            )
        self._next_attempt = time.monotonic() + self._delay

    def _drain_until_closed(self) -> None:
        """Wait for the broker to close after DISCONNECT, reading what it still sends.

        Closing with unread bytes in our receive buffer makes the kernel send a reset, and the
        broker may then drop what it had not read yet: the last PUBACKs, whose messages it
        would send again.
        """
        sock = self._sock
        assert sock is not None
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([sock], [], [], left)
            if not readable:
                return
            try:
                if not sock.recv(RECV_BYTES):
                    return  # the broker closed: everything we sent was read
            except (BlockingIOError, ssl.SSLWantReadError):
                continue
            except OSError:
                return

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        self._buffer = b""

    # -- bytes -------------------------------------------------------------------------------
    def _read(self, timeout: float) -> bytes:
        sock = self._sock
        assert sock is not None
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
        if not pending:
            readable, _, _ = select.select([sock], [], [], timeout)
            if not readable:
                return b""
        chunks: list[bytes] = []
        while True:
            try:
                chunk = sock.recv(RECV_BYTES)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except OSError as exc:
                raise SessionLost(_describe(exc)) from None
            if not chunk:
                if chunks:
                    break
                raise SessionLost("connection closed by the broker")
            chunks.append(chunk)
            # Decrypted bytes TLS holds back are not seen by select(): take them now.
            if not (isinstance(sock, ssl.SSLSocket) and sock.pending() > 0):
                break
        return b"".join(chunks)

    def _send(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise SessionLost("not connected")
        view = memoryview(data)
        deadline = time.monotonic() + SEND_TIMEOUT_S
        while view:
            try:
                sent = sock.send(view)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                sent = 0
            except OSError as exc:
                raise SessionLost(_describe(exc)) from None
            view = view[sent:]
            if view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SessionLost("write timed out (the broker reads nothing)")
                select.select([], [sock], [], left)
        self._last_sent = time.monotonic()

    def _keepalive(self, now: float) -> None:
        keepalive = self._collector.keepalive_s
        if self._ping_sent is not None and now - self._ping_sent > keepalive:
            raise SessionLost(f"no PINGRESP within {keepalive} s")
        if self._ping_sent is None and now - self._last_sent >= keepalive:
            self._send(mqtt5.PingReqPacket().write())
            self._ping_sent = now

    def _parse(self, data: bytes) -> list[Delivery]:
        buffer = self._buffer + data if self._buffer else data
        view = memoryview(buffer)
        offset, size = 0, len(buffer)
        deliveries: list[Delivery] = []
        received_at = datetime.now(UTC)
        monotonic = time.monotonic()
        generation = self._generation
        publish = mqtt5.PublishPacket
        while offset < size:
            try:
                packet, used = mqtt5.read(view[offset:])
            except IndexError:
                break  # an incomplete packet: the rest comes with the next read
            except BaseException as exc:
                # The broker sent what is not MQTT 5 (or a topic that is not UTF-8, which
                # brokers refuse to route; the codec reports some of these as a Rust panic, a
                # BaseException): drop the connection, the session redelivers.
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                raise SessionLost(f"malformed packet from the broker: {_describe(exc)}") from None
            offset += used
            if type(packet) is publish:
                inbound = Inbound(
                    packet.topic, packet.payload, received_at, monotonic, packet.duplicate
                )
                deliveries.append((inbound, packet.packet_id or 0, int(packet.qos), generation))
            else:
                self._control(packet)
        self._buffer = buffer[offset:]
        return deliveries

    def _control(self, packet: object) -> None:
        if isinstance(packet, mqtt5.PingRespPacket):
            self._ping_sent = None
        elif isinstance(packet, mqtt5.SubAckPacket):
            failed = [code.name for code in packet.reason_codes if int(code) >= 0x80]
            if failed:
                log.error("mqtt subscribe refused topic=%r reasons=%s", self.subscription, failed)
                return
            log.info("mqtt subscribed topic=%r", self.subscription)
            self.subscribed.set()
        elif isinstance(packet, mqtt5.DisconnectPacket):
            raise SessionLost(f"broker sent DISCONNECT reason={packet.reason_code.name}")
        else:
            log.debug("mqtt packet ignored type=%s", type(packet).__name__)


def _read_connack(sock: socket.socket) -> tuple[mqtt5.ConnAckPacket, bytes]:
    """Block (within the socket's timeout) for CONNACK; returns it and any bytes after it."""
    buffer = b""
    while True:
        chunk = sock.recv(RECV_BYTES)
        if not chunk:
            raise SessionLost("connection closed before CONNACK")
        buffer += chunk
        try:
            packet, used = mqtt5.read(memoryview(buffer))
        except IndexError:
            continue
        except Exception as exc:
            raise SessionLost(f"malformed CONNACK: {_describe(exc)}") from None
        if not isinstance(packet, mqtt5.ConnAckPacket):
            raise SessionLost(f"expected CONNACK, got {type(packet).__name__}")
        return packet, buffer[used:]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
