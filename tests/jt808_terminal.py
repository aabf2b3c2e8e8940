"""A JT/T 808 terminal emulator speaking real TCP, and an MQTT subscriber, for the gateway tests.

The emulator builds its frames with the gateway's own pure codec (gateways.jt808.codec and
messages), whose bytes the unit tests check against published frames; here it is the I/O that
is under test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from tests_support import DEADLINE_S, eventually

from gateways.jt808.codec import Edition, Frame, Header, decode_frame, encode_frame, split_frames
from gateways.jt808.messages import (
    GMT8,
    Authentication,
    LocationReport,
    MsgId,
    RegisterResult,
    Registration,
    Result,
    Status,
    authentication_body,
    location_body,
    parse_general_response,
    parse_register_response,
    registration_body,
)
from schemas import Envelope, decode

__all__ = ["MqttSink", "Terminal", "bodies", "report_at"]

B = TypeVar("B")

# A SUBACK from the session's local Mosquitto takes milliseconds; this is for a loaded machine.
SUBSCRIBE_TIMEOUT_S = 10.0


def report_at(lat: float, lon: float, *, speed_kmh: float = 20.0, **changes: Any) -> LocationReport:
    """A positioned report, BeiDou, ACC on, now."""
    values: dict[str, Any] = {
        "alarm": 0,
        "status": int(Status.ACC_ON | Status.POSITIONED | Status.BEIDOU),
        "lat_e6": round(abs(lat) * 1e6),
        "lon_e6": round(abs(lon) * 1e6),
        "altitude_m": 8,
        "speed_dkmh": round(speed_kmh * 10),
        "direction": 90,
        "time": datetime.now(GMT8).replace(microsecond=0),
        "extras": {0x31: b"\x12"},
    }
    values.update(changes)
    return LocationReport(**values)


def bodies(envelopes: list[Envelope], kind: type[B]) -> list[B]:
    """The envelopes' bodies, each checked to be a ``kind``."""
    found: list[B] = []
    for envelope in envelopes:
        assert isinstance(envelope.body, kind), envelope.body
        found.append(envelope.body)
    return found


class Terminal:
    """One terminal's TCP connection to the gateway."""

    def __init__(self, port: int, phone: str, *, edition: Edition = Edition.V2013) -> None:
        self.port = port
        self.phone = phone
        self.edition = edition
        self.serial = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buffer = b""
        self._frames: list[bytes] = []

    async def connect(self) -> Terminal:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    async def send_raw(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        await self._writer.drain()

    async def send(self, msg_id: int, body: bytes = b"", **header: Any) -> int:
        """Send one message; returns its serial number."""
        given: int | None = header.pop("serial", None)
        serial = self.serial if given is None else given
        if given is None:
            self.serial = (self.serial + 1) % 0x10000
        version = 1 if self.edition is Edition.V2019 else 0
        frame = Header(
            msg_id=msg_id,
            phone=self.phone,
            serial=serial,
            edition=self.edition,
            protocol_version=version,
            **header,
        )
        await self.send_raw(encode_frame(frame, body))
        return serial

    async def receive(self) -> Frame:
        """The next frame from the gateway (a hang fails after the shared deadline)."""
        assert self._reader is not None
        async with asyncio.timeout(DEADLINE_S):
            while not self._frames:
                chunk = await self._reader.read(4096)
                assert chunk, "the gateway closed the connection"
                frames, self._buffer = split_frames(self._buffer + chunk)
                self._frames.extend(frames)
        return decode_frame(self._frames.pop(0))

    async def closed_by_gateway(self) -> bool:
        """Wait for the gateway to close the connection; True once it has."""
        assert self._reader is not None
        async with asyncio.timeout(DEADLINE_S):
            while True:
                try:
                    chunk = await self._reader.read(4096)
                except ConnectionResetError:
                    return True
                if not chunk:
                    return True

    async def answer(self, msg_id: int, body: bytes = b"", **header: Any) -> tuple[int, Result]:
        """Send, then read the general response: (serial it answers, result)."""
        serial = await self.send(msg_id, body, **header)
        frame = await self.receive()
        assert frame.header.msg_id == MsgId.PLATFORM_RESPONSE, hex(frame.header.msg_id)
        assert frame.header.edition is self.edition
        answered, answered_id, result = parse_general_response(frame.body)
        assert (answered, answered_id) == (serial, msg_id)
        return serial, result

    async def register(self, terminal_id: str = "T000001") -> tuple[RegisterResult, str]:
        registration = Registration(
            province=33,
            city=200,
            manufacturer="70444",
            model="BD-T1",
            terminal_id=terminal_id,
            plate_color=2,
            plate="浙B12345",
        )
        serial = await self.send(MsgId.REGISTER, registration_body(registration, self.edition))
        frame = await self.receive()
        assert frame.header.msg_id == MsgId.REGISTER_RESPONSE
        answered, result, code = parse_register_response(frame.body)
        assert answered == serial
        return result, code

    async def authenticate(self, code: str) -> Result:
        auth = Authentication(code=code, imei="861234567890123", software_version="bd-t1-2.0")
        _, result = await self.answer(MsgId.AUTHENTICATE, authentication_body(auth, self.edition))
        return result

    async def report(self, report: LocationReport, **header: Any) -> Result:
        _, result = await self.answer(MsgId.LOCATION, location_body(report), **header)
        return result


class MqttSink:
    """Subscribes to one vendor's mobility subtree and keeps every message."""

    def __init__(self, port: int, prefix: str, vendor: str) -> None:
        self.prefix = prefix
        self.received: list[tuple[str, bytes]] = []
        self._subscribed = False
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-jt808-sub-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: setattr(self, "_subscribed", True)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(f"{prefix}/mobility/{vendor}/#", qos=1)
        eventually(lambda: self._subscribed, what="SUBACK", timeout=SUBSCRIBE_TIMEOUT_S)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.received.append((msg.topic, bytes(msg.payload)))

    def envelopes(self, channel: str | None = None) -> list[Envelope]:
        """Every message so far, through the collectors' own decode (the contract)."""
        now = datetime.now(UTC)
        decoded = [
            decode(topic, payload, received_at=now, prefix=self.prefix)
            for topic, payload in list(self.received)
        ]
        return [e for e in decoded if channel is None or e.channel == channel]

    def wait_for(self, count: int, channel: str) -> Callable[[], list[Envelope]]:
        """A check for async_eventually: at least ``count`` messages of ``channel``."""

        def check() -> list[Envelope]:
            found = self.envelopes(channel)
            assert len(found) >= count, f"{len(found)} {channel} messages of {count}"
            return found

        return check

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
