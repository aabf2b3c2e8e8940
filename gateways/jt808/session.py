"""One terminal's TCP connection: frames in, answers out, reports published (asyncio).

A connection reads frames (:func:`~gateways.jt808.codec.split_frames`) and handles them one at a
time, in order: a report is answered (0x8001, success) only once the broker acknowledged its
message, so the terminal resends what the platform does not hold. Until the terminal
authenticates (0x0102) only registration and authentication are served; anything else is
answered ``failure``.

Defences, each counted (:class:`~gateways.jt808.stats.GatewayStats`), none able to stop the
server: a frame that fails its check code, escaping or header is dropped unanswered (its
header cannot be trusted to answer); a valid frame with a bad body is answered ``message
error``, an encrypted or split one ``not supported``. The connection is closed after
``MAX_BAD_FRAMES`` bad frames in a row, ``MAX_UNAUTHENTICATED`` messages refused for want of
authentication, more than ``MAX_FRAME_BYTES`` without a delimiter, and when no valid frame came
for the idle timeout (a half-open connection, or one trickling bytes: partial frames do not
count as activity). A terminal that stops reading its answers is closed when a write cannot
drain within the idle timeout.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gateways.jt808.codec import (
    MAX_FRAME_BYTES,
    Frame,
    Header,
    decode_frame,
    encode_frame,
    normalise_phone,
    split_frames,
)
from gateways.jt808.errors import FrameError, FrameReason
from gateways.jt808.messages import (
    MsgId,
    RegisterResult,
    Result,
    general_response_body,
    parse_authentication,
    parse_location,
    parse_registration,
    register_response_body,
)
from gateways.jt808.position import (
    TerminalCounter,
    position_fields,
    position_payload,
    status_payload,
)
from gateways.jt808.terminals import Terminal

if TYPE_CHECKING:
    from gateways.jt808.server import Gateway

__all__ = ["MAX_BAD_FRAMES", "MAX_UNAUTHENTICATED", "Session"]

log = logging.getLogger(__name__)

READ_BYTES = 4096
# A terminal on a bad line may send a few corrupt frames; a stream of them is not a terminal.
MAX_BAD_FRAMES = 16
MAX_UNAUTHENTICATED = 8
_SERIAL_MODULO = 0x10000
_NAMES = {int(m): m.name.lower() for m in MsgId}


class Session:
    """One connection; :meth:`run` serves it until it ends, then publishes ``offline``."""

    def __init__(
        self, gateway: Gateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        self.terminal: Terminal | None = None
        self.counter: TerminalCounter | None = None
        self.close_reason: str | None = None
        self._serial = 0
        self._bad_in_row = 0
        self._unauthenticated = 0
        self._replaced = False
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + gateway.settings.idle_timeout_s
        # One timer per connection, moved on only when it fires: a frame just sets _deadline
        # (a timeout around every read would cost a timer per frame).
        self._watchdog = self._loop.call_at(self._deadline, self._watch)

    def _watch(self) -> None:
        if self.close_reason is not None:
            return
        if self._loop.time() >= self._deadline:
            self.close("idle_timeout")
        else:
            self._watchdog = self._loop.call_at(self._deadline, self._watch)

    def close(self, reason: str, *, replaced: bool = False) -> None:
        """End the connection from outside (a newer connection of the terminal, shutdown)."""
        self._replaced = self._replaced or replaced
        self.close_reason = self.close_reason or reason
        self.writer.transport.abort()

    async def run(self) -> None:
        stats = self.gateway.stats
        buffer = b""
        try:
            while self.close_reason is None:
                try:
                    chunk = await self.reader.read(READ_BYTES)
                except OSError:
                    chunk = b""
                if not chunk:
                    self.close_reason = self.close_reason or "connection_lost"
                    break
                frames, buffer = split_frames(buffer + chunk)
                for content in frames:
                    await self._frame(content)
                    if self.close_reason is not None:
                        break
                if len(buffer) > MAX_FRAME_BYTES:
                    stats.rejected[FrameReason.TOO_LARGE] += 1
                    self.close_reason = "too_large"
        finally:
            self._watchdog.cancel()
            stats.closed[self.close_reason or "error"] += 1
            self.writer.transport.abort()
            await self._went_offline()

    async def _frame(self, content: bytes) -> None:
        stats = self.gateway.stats
        try:
            frame = decode_frame(content)
        except FrameError as exc:
            stats.rejected[exc.reason] += 1
            self._bad_in_row += 1
            if self._bad_in_row >= MAX_BAD_FRAMES:
                self.close_reason = "bad_frames"
            return
        self._bad_in_row = 0
        self._deadline = self._loop.time() + self.gateway.settings.idle_timeout_s
        header = frame.header
        stats.received[_NAMES.get(header.msg_id, "other")] += 1
        if header.encryption or header.packets is not None:
            stats.rejected[FrameReason.UNSUPPORTED] += 1
            await self._answer(header, Result.NOT_SUPPORTED)
            return
        try:
            await self._dispatch(frame)
        except FrameError as exc:
            stats.rejected[exc.reason] += 1
            result = (
                Result.NOT_SUPPORTED
                if exc.reason is FrameReason.UNSUPPORTED
                else Result.MESSAGE_ERROR
            )
            await self._answer(header, result)

    async def _dispatch(self, frame: Frame) -> None:
        header = frame.header
        if header.msg_id == MsgId.REGISTER:
            await self._register(frame)
            return
        if header.msg_id == MsgId.AUTHENTICATE:
            await self._authenticate(frame)
            return
        if header.msg_id == MsgId.TERMINAL_RESPONSE:
            return  # the terminal's answer to a platform message; the gateway sends none
        if self.terminal is None or normalise_phone(header.phone) != self.terminal.phone:
            self.gateway.stats.unauthenticated += 1
            self._unauthenticated += 1
            await self._answer(header, Result.FAILURE)
            if self._unauthenticated >= MAX_UNAUTHENTICATED:
                self.close_reason = "unauthenticated"
            return
        if header.msg_id == MsgId.HEARTBEAT:
            await self._answer(header, Result.SUCCESS)
        elif header.msg_id == MsgId.LOCATION:
            await self._location(frame)
        elif header.msg_id == MsgId.LOGOUT:
            await self._answer(header, Result.SUCCESS)
            self.close_reason = "logout"
        else:
            await self._answer(header, Result.NOT_SUPPORTED)

    async def _register(self, frame: Frame) -> None:
        header = frame.header
        registration = parse_registration(frame.body, header.edition)
        terminal = self.gateway.directory.lookup(header.phone)
        if terminal is None or (
            terminal.terminal_id is not None and terminal.terminal_id != registration.terminal_id
        ):
            result, code = RegisterResult.NO_TERMINAL, ""
        else:
            result, code = RegisterResult.SUCCESS, self.gateway.auth_codes.issue(header.phone)
        self.gateway.stats.registrations[result.name.lower()] += 1
        body = register_response_body(header.serial, result, code)
        await self._send(header, MsgId.REGISTER_RESPONSE, body)

    async def _authenticate(self, frame: Frame) -> None:
        header = frame.header
        auth = parse_authentication(frame.body, header.edition)
        terminal = self.gateway.directory.lookup(header.phone)
        gateway = self.gateway
        if terminal is None or not gateway.auth_codes.check(header.phone, auth.code):
            gateway.stats.auth_failures += 1
            await self._answer(header, Result.FAILURE)
            return
        counter, new = gateway.counter_for(terminal.phone)
        reason = "boot" if new else "connected"
        payload = status_payload(
            "online",
            reason=reason,
            seq=counter.take(),
            ts=datetime.now(UTC),
            firmware=auth.software_version,
        )
        if not await gateway.publish(terminal.device_id, "status", payload, retain=True):
            await self._answer(header, Result.FAILURE)
            return
        self.terminal, self.counter = terminal, counter
        gateway.attach(self)
        await self._answer(header, Result.SUCCESS)

    async def _location(self, frame: Frame) -> None:
        assert self.terminal is not None
        assert self.counter is not None
        fields = position_fields(parse_location(frame.body))
        seq, repeated = self.counter.for_report(frame.body)
        payload = position_payload(fields, seq=seq)
        stats = self.gateway.stats
        if await self.gateway.publish(self.terminal.device_id, "position", payload):
            stats.reports += 1
            stats.reports_repeated += repeated
            await self._answer(frame.header, Result.SUCCESS)
        # else: no answer; the terminal sends the report again, with the same seq.

    async def _went_offline(self) -> None:
        terminal, counter = self.terminal, self.counter
        if terminal is None or counter is None or self._replaced:
            return
        self.gateway.detach(self)
        payload = status_payload(
            "offline",
            reason=self.close_reason or "connection_lost",
            seq=counter.take(),
            ts=datetime.now(UTC),
        )
        await self.gateway.publish(terminal.device_id, "status", payload, retain=True)

    async def _answer(self, header: Header, result: Result) -> None:
        body = general_response_body(header.serial, header.msg_id, result)
        await self._send(header, MsgId.PLATFORM_RESPONSE, body)

    async def _send(self, to: Header, msg_id: MsgId, body: bytes) -> None:
        """A platform message in the terminal's own edition and numbering."""
        header = Header(
            msg_id=msg_id,
            phone=to.phone,
            serial=self._serial,
            edition=to.edition,
            protocol_version=to.protocol_version,
        )
        self._serial = (self._serial + 1) % _SERIAL_MODULO
        self.writer.write(encode_frame(header, body))
        if not self.writer.transport.get_write_buffer_size():
            return  # the kernel took it all: nothing to wait for
        try:
            async with asyncio.timeout(self.gateway.settings.idle_timeout_s):
                await self.writer.drain()
        except (TimeoutError, OSError):
            # A terminal that does not read (or is gone) holds buffers for nothing.
            self.close_reason = self.close_reason or "not_reading"
