"""A JT/T 808 terminal to InfluxDB: terminal → gateway → Mosquitto → collector → Kafka → streams
worker → InfluxDB, every report stored once and a retransmission after a reconnect dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jt808_terminal import Terminal, report_at
from tests_support import async_eventually, eventually

from cityiot.local.platform import Platform
from core.influx import InfluxQueryError
from core.settings.gateway import GatewaySettings
from gateways.jt808 import Gateway
from gateways.jt808.messages import RegisterResult, Result
from schemas import DeviceRecord, Registry

VENDOR = "nbbus"
DEVICE = "BUS-0001"
PHONE = "013306139197"
REPORTS = 5


def _write_registry(platform: Platform) -> None:
    record = DeviceRecord(
        device_id=DEVICE,
        facility="mobility",
        vendor=VENDOR,
        district_adcode="330203",
        asset_type="bus",
        expected_interval_s=60,
    )
    Registry([record]).write_csv(platform.registry_path)


def _row(platform: Platform, select: str, measurement: str) -> list[Any]:
    query = f'SELECT {select} FROM "{measurement}" WHERE "device" = \'{DEVICE}\''  # noqa: S608
    try:
        series = platform.influx().query(query)
    except InfluxQueryError as exc:  # the worker creates the database with its first write
        raise AssertionError(f"not readable yet: {exc}") from None
    return list(series[0]["values"][0][1:]) if series else []


async def _drive(platform: Platform, mapping: Path) -> None:
    gateway_settings = GatewaySettings(
        listen_port=0,
        vendor=VENDOR,
        mapping_path=mapping,
        auth_secret="e2e-secret",  # type: ignore[arg-type]
    )
    settings = platform.settings.model_copy(update={"gateway": gateway_settings})
    async with Gateway.from_settings(settings) as gateway:
        terminal = await Terminal(gateway.port, PHONE).connect()
        result, code = await terminal.register()
        assert result is RegisterResult.SUCCESS
        assert await terminal.authenticate(code) is Result.SUCCESS
        reports = [report_at(29.87 + i / 1000, 121.55, speed_kmh=20.0 + i) for i in range(REPORTS)]
        for report in reports:
            assert await terminal.report(report) is Result.SUCCESS
        terminal.close()
        # Its end seen first (offline published), so the next connection replaces none.
        await async_eventually(lambda: sum(gateway.stats.closed.values()) == 1, what="closed")
        # The last report again, as a terminal resends one it got no answer to, after a reconnect.
        again = await Terminal(gateway.port, PHONE).connect()
        assert await again.authenticate(code) is Result.SUCCESS
        assert await again.report(reports[-1], serial=4000) is Result.SUCCESS
        again.close()


def test_e2e_jt808_reports_stored_once_in_influxdb(platform: Platform, tmp_path: Path) -> None:
    """Five reports and a retransmission: five positions, one duplicate, no reset, statuses."""
    _write_registry(platform)
    mapping = tmp_path / "terminals.csv"
    mapping.write_text(f"phone,device_id\n{PHONE},{DEVICE}\n")
    platform.start_stream()
    platform.start_collector()
    platform.wait_collector_connected()
    asyncio.run(_drive(platform, mapping))

    def stored() -> None:
        platform.children.check()
        assert _row(platform, 'count("lat")', "mobility_position") == [REPORTS]
        assert _row(platform, 'max("speed_kmh")', "mobility_position") == [20.0 + REPORTS - 1]
        # online boot, offline connection_lost, online connected, offline shutdown or lost.
        assert _row(platform, 'count("seq")', "device_status") == [4]
        health = _row(platform, 'last("resets"), last("duplicates")', "device_health")
        assert health == [0, 1]

    eventually(stored, what="five positions stored once, the retransmission dropped")
