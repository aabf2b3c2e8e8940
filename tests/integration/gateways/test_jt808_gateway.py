"""The JT/T 808 gateway against the session's real Mosquitto, with terminals over real TCP.

Each test runs the gateway on its own event loop (port chosen by the OS), its own MQTT topic
prefix and a mapping file of its own; positions and statuses are read back from Mosquitto and
decoded with ``schemas.decode``, the collectors' contract check. The terminal emulator is
tests/jt808_terminal.py (shared with the end-to-end test).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jt808_terminal import MqttSink, Terminal, bodies, report_at
from tests_support import async_eventually, eventually

from core.settings import Settings
from core.settings.gateway import GatewaySettings
from gateways.jt808 import Edition, FrameReason, Gateway
from gateways.jt808.messages import MsgId, RegisterResult, Result, Status
from schemas import DeviceStatus, MobilityPosition

pytestmark = pytest.mark.integration

VENDOR = "nbbus"
PHONE_2013 = "013306139197"
PHONE_2019 = "00000000013900000002"
MAPPING = "phone,device_id,terminal_id\n13306139197,BUS-0001,T000001\n13900000002,BUS-0002,\n"


@pytest.fixture
def gateway_settings(settings: Settings, tmp_path: Path) -> Settings:
    mapping = tmp_path / "terminals.csv"
    mapping.write_text(MAPPING)
    gateway = GatewaySettings(
        listen_port=0,
        vendor=VENDOR,
        mapping_path=mapping,
        auth_secret="test-secret",
        publish_timeout_s=30.0,
    )
    return settings.model_copy(update={"gateway": gateway})


@pytest.fixture
def sink(gateway_settings: Settings) -> Iterator[MqttSink]:
    mqtt = gateway_settings.mqtt
    subscriber = MqttSink(mqtt.port, mqtt.topic_prefix, VENDOR)
    yield subscriber
    subscriber.close()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


async def _online(terminal: Terminal) -> None:
    result, code = await terminal.register()
    assert result is RegisterResult.SUCCESS
    assert await terminal.authenticate(code) is Result.SUCCESS


def test_gateway_publishes_positions_of_a_2013_terminal(
    gateway_settings: Settings, sink: MqttSink
) -> None:
    """Register, authenticate, heartbeat, three reports: a boot status and three positions."""

    async def scenario() -> None:
        async with Gateway.from_settings(gateway_settings) as gateway:
            terminal = await Terminal(gateway.port, PHONE_2013).connect()
            await _online(terminal)
            _, heartbeat = await terminal.answer(MsgId.HEARTBEAT)
            assert heartbeat is Result.SUCCESS
            reports = [report_at(29.87 + i / 1000, 121.55, speed_kmh=30.5 + i) for i in range(3)]
            reports[2] = replace(reports[2], alarm=1, status=reports[2].status | Status.SOUTH)
            for report in reports:
                assert await terminal.report(report) is Result.SUCCESS
            positions = await async_eventually(
                sink.wait_for(3, "position"), what="3 positions on MQTT"
            )
            terminal.close()
            statuses = await async_eventually(sink.wait_for(1, "status"), what="online status")
            assert gateway.stats.reports == 3

        assert {p.device_id for p in positions} == {"BUS-0001"}
        assert {(p.facility.value, p.vendor) for p in positions} == {("mobility", VENDOR)}
        fixes = bodies(positions, MobilityPosition)
        assert [(b.lat, b.lon) for b in fixes] == [
            (29.87, 121.55),
            (29.871, 121.55),
            (-29.872, 121.55),
        ]
        assert [b.speed_kmh for b in fixes] == [30.5, 31.5, 32.5]
        assert [p.ts for p in positions] == [r.time for r in reports]
        online = statuses[0]
        assert isinstance(online.body, DeviceStatus)
        assert (online.body.state, online.body.reason) == ("online", "boot")
        seqs = [online.seq, *(p.seq for p in positions)]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 4

    _run(scenario())


def test_gateway_serves_a_2019_terminal_and_ends_with_offline(
    gateway_settings: Settings, sink: MqttSink
) -> None:
    """2019 headers both ways, the software version as firmware, offline at logout."""

    async def scenario() -> None:
        async with Gateway.from_settings(gateway_settings) as gateway:
            terminal = await Terminal(gateway.port, PHONE_2019, edition=Edition.V2019).connect()
            await _online(terminal)
            assert await terminal.report(report_at(29.9, 121.6)) is Result.SUCCESS
            _, logout = await terminal.answer(MsgId.LOGOUT)
            assert logout is Result.SUCCESS
            assert await terminal.closed_by_gateway()
            statuses = await async_eventually(sink.wait_for(2, "status"), what="two statuses")
            positions = sink.envelopes("position")

        assert [p.device_id for p in positions] == ["BUS-0002"]
        states = bodies(statuses, DeviceStatus)
        assert [(b.state, b.reason) for b in states] == [
            ("online", "boot"),
            ("offline", "logout"),
        ]
        assert states[0].firmware == "bd-t1-2.0"
        assert statuses[0].seq < positions[0].seq < statuses[1].seq

    _run(scenario())


def test_gateway_gives_a_retransmitted_report_its_first_seq(
    gateway_settings: Settings, sink: MqttSink
) -> None:
    """A report resent with a new serial, even after a reconnect, keeps its seq and ts."""

    async def scenario() -> None:
        async with Gateway.from_settings(gateway_settings) as gateway:
            first = await Terminal(gateway.port, PHONE_2013).connect()
            await _online(first)
            report = report_at(29.8, 121.5)
            assert await first.report(report) is Result.SUCCESS
            first.close()
            again = await Terminal(gateway.port, PHONE_2013).connect()
            _, code = await again.register()
            assert await again.authenticate(code) is Result.SUCCESS
            assert await again.report(report, serial=500) is Result.SUCCESS
            await async_eventually(sink.wait_for(2, "position"), what="two positions")
            assert gateway.stats.reports_repeated == 1

        positions = sink.envelopes("position")
        assert positions[0].seq == positions[1].seq
        assert positions[0].ts == positions[1].ts
        reasons = [s.reason for s in bodies(sink.envelopes("status"), DeviceStatus)]
        assert reasons[0] == "boot"
        assert "connected" in reasons  # the same process's counter goes on: no new boot

    _run(scenario())


def test_gateway_refuses_what_it_must_and_survives_bad_frames(
    gateway_settings: Settings, sink: MqttSink
) -> None:
    """Unknown terminal, wrong code, no auth, bad body, encrypted, unknown id, bad check code."""

    async def scenario() -> None:
        async with Gateway.from_settings(gateway_settings) as gateway:
            stranger = await Terminal(gateway.port, "013000000000").connect()
            result, code = await stranger.register()
            assert (result, code) == (RegisterResult.NO_TERMINAL, "")
            moved = await Terminal(gateway.port, PHONE_2013).connect()
            result, _ = await moved.register(terminal_id="T999999")
            assert result is RegisterResult.NO_TERMINAL

            terminal = await Terminal(gateway.port, PHONE_2013).connect()
            assert await terminal.authenticate("0" * 16) is Result.FAILURE
            assert await terminal.report(report_at(29.8, 121.5)) is Result.FAILURE
            await _online(terminal)
            _, bad_body = await terminal.answer(MsgId.LOCATION, b"\x00" * 27)
            assert bad_body is Result.MESSAGE_ERROR
            encrypted = report_at(29.8, 121.5, status=int(Status.ENCRYPTED))
            assert await terminal.report(encrypted) is Result.NOT_SUPPORTED
            _, rsa = await terminal.answer(MsgId.HEARTBEAT, encryption=1)
            assert rsa is Result.NOT_SUPPORTED
            _, unknown = await terminal.answer(0x0900, b"\x01")
            assert unknown is Result.NOT_SUPPORTED
            # A corrupt frame gets no answer: the next answer is the heartbeat's.
            await terminal.send_raw(b"\x7e\x00\x02\x00\x00\x01\x33\x06\x13\x91\x97\x00\x09\x00\x7e")
            await terminal.send_raw(b"junk without delimiters" + b"\x7e")
            _, heartbeat = await terminal.answer(MsgId.HEARTBEAT)
            assert heartbeat is Result.SUCCESS
            stats = gateway.stats

        assert stats.rejected[FrameReason.BAD_CHECKSUM] >= 1
        assert stats.rejected[FrameReason.BAD_BODY] == 1
        assert stats.rejected[FrameReason.UNSUPPORTED] == 2
        assert stats.auth_failures == 1
        assert stats.unauthenticated == 1
        assert stats.registrations == {"no_terminal": 2, "success": 1}
        assert sink.envelopes("position") == []

    _run(scenario())


def test_gateway_closes_idle_flooding_and_replaced_connections(
    gateway_settings: Settings, sink: MqttSink
) -> None:
    """Half a frame then silence; bytes with no delimiter; a terminal that connects again."""
    gateway = replace_gateway(gateway_settings, idle_timeout_s=1.0)

    async def scenario() -> None:
        async with Gateway.from_settings(gateway) as server:
            slow = await Terminal(server.port, PHONE_2019, edition=Edition.V2019).connect()
            await slow.send_raw(b"\x7e\x00\x02\x40\x00")  # the start of a frame, never ended
            assert await slow.closed_by_gateway()

            flood = await Terminal(server.port, "013000000001").connect()
            await flood.send_raw(b"\x7e" + b"\x01" * 5000)
            assert await flood.closed_by_gateway()

            old = await Terminal(server.port, PHONE_2013).connect()
            await _online(old)
            new = await Terminal(server.port, PHONE_2013).connect()
            await _online(new)
            assert await old.closed_by_gateway()
            _, heartbeat = await new.answer(MsgId.HEARTBEAT)
            assert heartbeat is Result.SUCCESS
            # Silent from here: the idle timeout ends it, and its terminal goes offline.
            assert await new.closed_by_gateway()
            await async_eventually(sink.wait_for(3, "status"), what="offline status")
            closed = server.stats.closed

        assert closed["idle_timeout"] == 2
        assert closed["too_large"] == 1
        assert closed["replaced"] == 1
        statuses = bodies(sink.envelopes("status"), DeviceStatus)
        assert [(s.state, s.reason) for s in statuses] == [
            ("online", "boot"),
            ("online", "connected"),
            ("offline", "idle_timeout"),
        ]

    _run(scenario())


def test_gateway_stop_publishes_offline_for_connected_terminals(
    gateway_settings: Settings, sink: MqttSink
) -> None:
    """Shutdown ends each connection with its terminal's offline status."""

    async def scenario() -> None:
        async with Gateway.from_settings(gateway_settings) as gateway:
            terminal = await Terminal(gateway.port, PHONE_2013).connect()
            await _online(terminal)
        assert await terminal.closed_by_gateway()

    _run(scenario())

    def offline() -> None:
        payloads = [json.loads(p) for t, p in list(sink.received) if t.endswith("/status")]
        assert [(p["state"], p["reason"]) for p in payloads] == [
            ("online", "boot"),
            ("offline", "shutdown"),
        ]

    eventually(offline, what="offline status at shutdown")


def replace_gateway(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"gateway": settings.gateway.model_copy(update=changes)})
