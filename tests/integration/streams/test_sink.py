"""The InfluxDB sink against the real InfluxDB: injection-proof points, dead letters."""

from __future__ import annotations

import asyncio

import pytest

from core.influx import InfluxTarget, V1Writer
from core.settings import Settings
from streams.influx import Sink
from streams.lineproto import line

pytestmark = pytest.mark.integration


def _sink(settings: Settings) -> tuple[Sink, V1Writer]:
    writer = V1Writer(InfluxTarget.from_settings(settings.influxdb))
    return Sink(writer, chunk_lines=100, retry_initial_s=0.1, retry_max_s=0.5), writer


def test_sink_device_text_cannot_inject_points(settings: Settings) -> None:
    """Hostile strings in tags and fields arrive as one point with the string intact."""
    hostile = 'x" 1\nevil,device=a value=666i 1\\'
    text = line("device_status", [("device", "d 1,=")], {"reason": hostile, "n": 1}, 10**18)

    async def run() -> None:
        sink, writer = _sink(settings)
        await writer.start()
        try:
            assert await sink.write([text]) == []
        finally:
            await writer.close()

    asyncio.run(run())
    target = InfluxTarget.from_settings(settings.influxdb)
    series = target.query('SELECT "reason", "n" FROM "device_status"', epoch="ns")
    assert len(series) == 1
    assert series[0]["values"] == [[10**18, hostile.replace("\n", " "), 1]]
    assert target.query('SELECT * FROM "evil"') == []


def test_sink_dead_letters_only_the_rejected_line(settings: Settings) -> None:
    """A field type conflict rejects one line; the others are written, it comes back dead."""
    good = [line("m", [("device", f"d{i}")], {"v": 1.5}, 10**18 + i) for i in range(9)]
    bad = line("m", [("device", "d0")], {"v": "text"}, 10**18 + 99)

    async def run() -> list[str]:
        sink, writer = _sink(settings)
        await writer.start()
        try:
            await sink.write(good[:1])  # fixes the field type as float
            dead = await sink.write([*good[1:5], bad, *good[5:]])
        finally:
            await writer.close()
        assert all(d.status == 400 for d in dead)
        return [d.line for d in dead]

    assert asyncio.run(run()) == [bad]
    series = InfluxTarget.from_settings(settings.influxdb).query('SELECT count("v") FROM "m"')
    assert series[0]["values"][0][1] == 9
