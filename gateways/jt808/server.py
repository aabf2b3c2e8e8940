"""The JT/T 808 gateway: an asyncio TCP server for terminals and one MQTT client for the platform.

``run(settings)`` is what ``cityiot gateway jt808`` calls; tests and the benchmark use
:class:`Gateway` directly (``async with Gateway.from_settings(settings) as gateway``). Shared by
every connection: the terminal directory and authentication codes (gateways.jt808.terminals),
the per-terminal seq counters (gateways.jt808.position), the connections by terminal (a terminal
that connects again replaces its older, probably half-open, connection) and the counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import time
from types import TracebackType
from typing import Any

from core.errors import SettingError
from core.settings import Settings
from gateways.jt808.position import TerminalCounter
from gateways.jt808.publisher import MqttPublisher
from gateways.jt808.session import Session
from gateways.jt808.stats import GatewayStats, summary_line
from gateways.jt808.terminals import AuthCodes, TerminalDirectory
from schemas.topic import VENDOR_PATTERN

__all__ = ["Gateway", "run"]

log = logging.getLogger(__name__)

# Terminals reconnect in waves after a network or gateway outage: room for a burst of SYNs.
LISTEN_BACKLOG = 4096
SUMMARY_INTERVAL_S = 60.0
# At shutdown each connection publishes its terminal's offline status; then the rest is cut.
SHUTDOWN_TIMEOUT_S = 10.0


def gateway_vendor(settings: Settings) -> str:
    """The vendor slug of the topics: CITYIOT_GATEWAY_VENDOR, else the MQTT username.

    Raises:
        SettingError: Neither is set, or the username is no vendor slug.
    """
    vendor = settings.gateway.vendor or settings.mqtt.username
    if vendor is None:
        raise SettingError(
            "CITYIOT_GATEWAY_VENDOR",
            "set the vendor slug the terminals publish under (or CITYIOT_MQTT_USERNAME, the "
            "vendor's MQTT user)",
        )
    if not re.fullmatch(VENDOR_PATTERN, vendor):
        raise SettingError(
            "CITYIOT_GATEWAY_VENDOR", f"{vendor!r} is no vendor slug ({VENDOR_PATTERN})"
        )
    return vendor


class Gateway:
    """Serves terminals on ``settings.gateway.listen_host``:``listen_port`` while started."""

    def __init__(
        self,
        settings: Settings,
        *,
        vendor: str,
        directory: TerminalDirectory,
        auth_codes: AuthCodes,
        publisher: MqttPublisher,
    ) -> None:
        self.settings = settings.gateway
        self.prefix = settings.mqtt.topic_prefix
        self.vendor = vendor
        self.directory = directory
        self.auth_codes = auth_codes
        self.publisher = publisher
        self.stats = GatewayStats()
        self._counters: dict[str, TerminalCounter] = {}
        self._by_phone: dict[str, Session] = {}
        self._sessions: set[Session] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Gateway:
        """Raises: SettingError (vendor), MappingError (the mapping file)."""
        secret = settings.gateway.auth_secret
        return cls(
            settings,
            vendor=gateway_vendor(settings),
            directory=TerminalDirectory.load(settings.gateway.mapping_path),
            auth_codes=AuthCodes(
                secret.get_secret_value().encode() if secret else None,
                policy=settings.gateway.auth,
            ),
            publisher=MqttPublisher(settings.mqtt),
        )

    @property
    def port(self) -> int:
        """The port listened on (the one the OS chose when ``listen_port`` is 0)."""
        assert self._server is not None, "start() first"
        assert self._server.sockets, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Connect to the broker, then listen.

        Raises:
            PublishError: No broker. SettingError: the address cannot be listened on.
        """
        await self.publisher.start()
        host, port = self.settings.listen_host, self.settings.listen_port
        try:
            self._server = await asyncio.start_server(
                self._handle, host, port, backlog=LISTEN_BACKLOG
            )
        except OSError as exc:
            self.publisher.stop()
            raise SettingError(
                "CITYIOT_GATEWAY_LISTEN_PORT",
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            ) from None
        log.info("listening host=%s port=%d vendor=%s", host, self.port, self.vendor)

    async def stop(self) -> None:
        """Stop listening, end every connection (each publishes its offline status), disconnect."""
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.close("shutdown")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=SHUTDOWN_TIMEOUT_S)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), SHUTDOWN_TIMEOUT_S)
        self.publisher.stop()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        if len(self._sessions) >= self.settings.max_connections:
            self.stats.refused += 1
            writer.transport.abort()
            return
        session = Session(self, reader, writer)
        self._sessions.add(session)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await session.run()
        except Exception:
            # A bug in one connection's handling must not end the others.
            log.exception("session failed phone=%s", session.terminal and session.terminal.phone)
        finally:
            self._sessions.discard(session)
            self._tasks.discard(task)

    def counter_for(self, phone: str) -> tuple[TerminalCounter, bool]:
        """The terminal's seq counter, and True if it was just made (a new boot)."""
        counter = self._counters.get(phone)
        if counter is not None:
            return counter, False
        # Epoch milliseconds: above any seq an earlier process or replica gave (position.py).
        counter = self._counters[phone] = TerminalCounter(time.time_ns() // 1_000_000)
        return counter, True

    def attach(self, session: Session) -> None:
        """``session`` authenticated: it replaces the terminal's older connection, if any."""
        assert session.terminal is not None
        older = self._by_phone.get(session.terminal.phone)
        self._by_phone[session.terminal.phone] = session
        if older is not None and older is not session:
            older.close("replaced", replaced=True)

    def detach(self, session: Session) -> None:
        if session.terminal is not None and self._by_phone.get(session.terminal.phone) is session:
            del self._by_phone[session.terminal.phone]

    def topic(self, device_id: str, channel: str) -> str:
        return f"{self.prefix}/mobility/{self.vendor}/{device_id}/{channel}"

    async def publish(
        self, device_id: str, channel: str, payload: bytes, *, retain: bool = False
    ) -> bool:
        """Publish and wait for the PUBACK; False if it did not come within the timeout."""
        try:
            async with asyncio.timeout(self.settings.publish_timeout_s):
                await self.publisher.publish(self.topic(device_id, channel), payload, retain=retain)
        except TimeoutError:
            self.stats.publish_timeouts += 1
            return False
        return True


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Gateway.from_settings(settings) as gateway:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SUMMARY_INTERVAL_S)
            log.info("summary %s", summary_line(gateway.stats))


def run(settings: Settings) -> None:
    """Serve terminals until SIGINT or SIGTERM."""
    asyncio.run(_serve(settings))
