"""Dead letters replayed after the registry fix, through the real chain (paho → Mosquitto →
collector → Kafka → ``cityiot deadletter replay`` → Kafka → streams → InfluxDB): stored once,
however often replayed, even after the device's newer messages; what still fails is reported
with its new reason and stays on the dead-letter topic, alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests_support import eventually

from cityiot.deadletters import read_deadletters
from cityiot.local.platform import Platform, settings_env
from core.influx import InfluxQueryError
from core.settings import Settings
from schemas import DeviceRecord, DeviceStatus, Facility, Registry, VendingSale, encode

VENDOR = "ubox"
# Sends while unknown, then is registered: its dead letters are replayed.
DEVICE = "VM-REPLAY-1"
# Also unknown at first, then registered to another vendor than its topic names: still failing.
STRAY = "VM-REPLAY-2"
# Registered from the start, silent: the registry is never empty.
BYSTANDER = "VM-REPLAY-0"
OLD_SALES = 3  # seq 1..3 after the boot status at seq 0, all dead-lettered
# paho's own deadline for a PUBACK; Mosquitto answers in milliseconds.
PUBACK_S = 30.0
# The CLI reads the topic to its end and waits for Kafka's acks: seconds; a hang fails.
COMMAND_TIMEOUT_S = 120.0


def _machine(device: str, vendor: str = VENDOR) -> DeviceRecord:
    return DeviceRecord(
        device_id=device,
        facility=Facility.VENDING,
        vendor=vendor,
        district_adcode="330203",
        lat=29.8683,
        lon=121.5440,
        expected_interval_s=300,
    )


def _sale(seq: int, ts_ms: int) -> tuple[bytes, int]:
    sale = VendingSale(
        txn_id=f"T{ts_ms}-{seq}",
        sku="6901939621608",
        category="water",
        quantity=1,
        amount_fen=100 + seq,
        payment="wechat",
        outcome="success",
    )
    return encode(sale, ts=ts_ms, seq=seq), sale.amount_fen


@pytest.fixture
def replay_platform(settings: Settings, tmp_path: Path) -> Iterator[Platform]:
    """The platform with device_health every second, so the test reads the final counters."""
    stream = settings.stream.model_copy(update={"health_interval_s": 1.0})
    running = Platform(settings.model_copy(update={"stream": stream}), tmp_path / "platform")
    try:
        yield running
    finally:
        running.stop()


def _publish(platform: Platform, messages: list[tuple[str, str, bytes]]) -> None:
    """(device, channel, payload) at QoS 1, in order, each acknowledged before the next."""
    m = platform.settings.mqtt
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(m.host, m.port)
    client.loop_start()
    try:
        for device, channel, payload in messages:
            info = client.publish(
                f"{m.topic_prefix}/vending/{VENDOR}/{device}/{channel}", payload, 1
            )
            info.wait_for_publish(PUBACK_S)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def _row(platform: Platform, select: str, measurement: str) -> list[Any]:
    """``SELECT select FROM measurement`` of DEVICE: its one row's values, [] before any."""
    query = f'SELECT {select} FROM "{measurement}" WHERE "device" = \'{DEVICE}\''  # noqa: S608
    try:
        series = platform.influx().query(query)
    except InfluxQueryError as exc:  # the worker creates the database with its first write
        raise AssertionError(f"not readable yet: {exc}") from None
    return list(series[0]["values"][0][1:]) if series else []


def _cityiot(platform: Platform, *args: str) -> list[str]:
    """``cityiot`` with the platform's settings; its stdout lines (exit 0 asserted)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "cityiot", *args],
        env={**clean, **settings_env(platform.settings)},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def _stored(platform: Platform, sales: int, fen: int) -> None:
    platform.children.check()
    assert _row(platform, 'count("seq"), sum("amount_fen")', "vending_sale") == [sales, fen]
    assert _row(platform, 'count("seq")', "device_status") == [1]
    rollup = _row(platform, 'sum("count"), sum("amount_fen")', "vending_sale_device_1m")
    assert rollup == [sales, fen]


def test_e2e_deadletter_replay_stores_once_and_reports_what_still_fails(
    replay_platform: Platform,
) -> None:
    """Boot status and three sales dead-lettered as unknown_device; the device registered; two
    newer sales stored; replay: all old ones stored; replay again, a redelivery of a newer sale,
    one more sale: every sale once, no reset counted; the stray message still fails, now as
    wrong_vendor, and the topic still holds exactly the five dead letters."""
    platform = replay_platform
    Registry([_machine(BYSTANDER)]).write_csv(platform.registry_path)
    platform.start_stream()
    platform.start_collector()
    platform.wait_collector_connected()

    start = int(time.time() * 1000)
    boot = DeviceStatus(state="online", reason="boot", firmware="1.4.2")
    old = [(DEVICE, "status", encode(boot, ts=start, seq=0))]
    old += [(DEVICE, "event", _sale(seq, start + seq)[0]) for seq in range(1, OLD_SALES + 1)]
    old.append((STRAY, "event", _sale(1, start)[0]))
    _publish(platform, old)

    def deadlettered() -> None:
        letters = read_deadletters(platform.settings.kafka)
        assert [letter.reason for letter in letters] == ["unknown_device"] * len(old)

    eventually(deadlettered, what="every message dead-lettered as unknown_device")

    # The fix: the device registered, the stray one too but to another vendor; collectors load
    # the registry at start.
    Registry([_machine(BYSTANDER), _machine(DEVICE), _machine(STRAY, "nbvend")]).write_csv(
        platform.registry_path
    )
    platform.children.stop("collector")
    platform.start_collector()
    platform.wait_collector_connected()
    newer = [_sale(seq, start + 10_000 + seq) for seq in (OLD_SALES + 1, OLD_SALES + 2)]
    _publish(platform, [(DEVICE, "event", payload) for payload, _ in newer])
    live_fen = sum(fen for _, fen in newer)
    eventually(lambda: _stored_newer(platform, len(newer), live_fen), what="the newer sales stored")

    dry = _cityiot(platform, "deadletter", "replay", "--reason", "unknown_device", "--dry-run")
    assert dry[-1] == f"total: would replay {OLD_SALES + 1}, still failing 1, skipped 0", dry
    out = _cityiot(platform, "deadletter", "replay", "--reason", "unknown_device")
    assert out[-1].startswith(f"total: replayed {OLD_SALES + 1} ({OLD_SALES + 1} sent to "), out
    assert out[-1].endswith("still failing 1, skipped 0"), out
    (failing,) = [line for line in out if line.startswith("still failing")]
    assert f"device={STRAY}" in failing
    assert "now=wrong_vendor" in failing

    old_fen = sum(_sale(seq, start + seq)[1] for seq in range(1, OLD_SALES + 1))
    total, fen = OLD_SALES + len(newer), old_fen + live_fen
    eventually(lambda: _stored(platform, total, fen), what="the replayed messages stored")

    # Again, then the byte-for-byte redelivery of a newer sale, then one more sale: once that
    # last one is stored, the stream has judged everything before it (one device, one
    # partition, in order).
    again = _cityiot(platform, "deadletter", "replay", "--reason", "unknown_device")
    assert again[-1] == out[-1]
    last, last_fen = _sale(OLD_SALES + 3, start + 20_000)
    _publish(platform, [(DEVICE, "event", newer[0][0]), (DEVICE, "event", last)])
    eventually(lambda: _stored(platform, total + 1, fen + last_fen), what="the last sale stored")
    _stored(platform, total + 1, fen + last_fen)  # nothing stored twice

    def health() -> None:
        # Replayed twice (4) and one redelivery: five duplicates; no reboot taken for the old
        # boot status.
        assert _row(platform, 'last("resets"), last("duplicates")', "device_health") == [0, 5]

    eventually(health, what="device_health: no reset, five duplicates")

    summary = json.loads(
        _cityiot(platform, "deadletter", "list", "--summary", "--json", "--vendor", VENDOR)[-1]
    )
    assert summary == {
        "counts": [{"reason": "unknown_device", "vendor": VENDOR, "count": len(old)}],
        "total": len(old),
    }


def _stored_newer(platform: Platform, sales: int, fen: int) -> None:
    platform.children.check()
    assert _row(platform, 'count("seq"), sum("amount_fen")', "vending_sale") == [sales, fen]
