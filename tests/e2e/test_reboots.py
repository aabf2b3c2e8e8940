"""A device reboots mid-stream (paho → Mosquitto → collector → Kafka → streams → InfluxDB):
every message of both boots stored once, redeliveries dropped, the restart counted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from tests_support import eventually

from cityiot.local.platform import Platform, SimulatorRun
from core.influx import InfluxQueryError
from schemas import DeviceStatus, DistrictIndex, VendingSale, encode
from simulator.fleet import Device, build_fleet

# A registry of a few simulated devices; the test speaks for one vending machine of it.
FLEET = SimulatorRun(devices=6, seed=21, will_devices=0)
SALES_PER_BOOT = 5
# The second boot's clock reading: seconds after the first boot's messages, as a restart takes.
REBOOT_AFTER_MS = 5_000
# paho's own deadline for a PUBACK; Mosquitto answers in milliseconds.
PUBACK_S = 30.0


@dataclass(frozen=True)
class Sent:
    channel: str
    payload: bytes
    amount_fen: int = 0


def _vending(platform: Platform) -> Device:
    assert platform.write_registry(FLEET) == FLEET.devices
    fleet = build_fleet(
        FLEET.devices, seed=FLEET.seed, locator=DistrictIndex.load(), will_devices=0
    )
    return next(d for d in fleet.devices if d.facility.value == "vending")


def _boot(device: Device, start_ms: int) -> list[Sent]:
    """A boot status at seq 0, then SALES_PER_BOOT sales, a millisecond apart."""
    status = DeviceStatus(state="online", reason="boot", firmware=device.firmware)
    out = [Sent("status", encode(status, ts=start_ms, seq=0))]
    for seq in range(1, SALES_PER_BOOT + 1):
        sale = VendingSale(
            txn_id=f"T{start_ms}-{seq}",
            sku="6901939621608",
            category="water",
            quantity=1,
            amount_fen=150 * seq,
            payment="wechat",
            outcome="success",
        )
        out.append(Sent("event", encode(sale, ts=start_ms + seq, seq=seq), sale.amount_fen))
    return out


def _publish(platform: Platform, device: Device, messages: list[Sent]) -> None:
    """QoS 1, in order, each acknowledged by Mosquitto before the next."""
    mqtt_settings = platform.settings.mqtt
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(mqtt_settings.host, mqtt_settings.port)
    client.loop_start()
    try:
        prefix = f"{mqtt_settings.topic_prefix}/vending/{device.vendor}/{device.device_id}"
        for msg in messages:
            info = client.publish(f"{prefix}/{msg.channel}", msg.payload, qos=1)
            info.wait_for_publish(PUBACK_S)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def _row(platform: Platform, select: str, measurement: str, device: Device) -> list[Any]:
    """``SELECT select FROM measurement`` of ``device``: its one row's values (after the time
    column), [] before any."""
    where = f"\"device\" = '{device.device_id}'"  # the simulator's id: [A-Z0-9-] only
    query = f'SELECT {select} FROM "{measurement}" WHERE {where}'  # noqa: S608 (our own names)
    try:
        series = platform.influx().query(query)
    except InfluxQueryError as exc:  # the worker creates the database with its first write
        raise AssertionError(f"not readable yet: {exc}") from None
    return list(series[0]["values"][0][1:]) if series else []


def test_e2e_reboot_every_message_stored_and_redelivery_dropped(platform: Platform) -> None:
    """Boot, five sales, reboot (seq from 0 after a boot status), five sales, then three
    redeliveries (the new boot's status and a sale of each boot, byte for byte): ten sales and two
    statuses stored, the roll-up counts ten, device_health says one reset and three duplicates."""
    device = _vending(platform)
    platform.start_stream()
    platform.start_collector()
    platform.wait_collector_connected()
    start = int(time.time() * 1000)
    first, second = _boot(device, start), _boot(device, start + REBOOT_AFTER_MS)
    # A QoS 1 redelivery is the same bytes again; the collector forwards it like any message.
    redelivered = [second[0], second[3], first[2]]
    _publish(platform, device, first + second + redelivered)
    fen = sum(m.amount_fen for m in first + second)

    def stored() -> None:
        platform.children.check()
        assert _row(platform, 'count("seq")', "vending_sale", device) == [2 * SALES_PER_BOOT]
        assert _row(platform, 'count("seq")', "device_status", device) == [2]
        rollup = _row(platform, 'sum("count"), sum("amount_fen")', "vending_sale_device_1m", device)
        assert rollup == [2 * SALES_PER_BOOT, fen]
        health = _row(platform, 'last("resets"), last("duplicates")', "device_health", device)
        assert health == [1, len(redelivered)]

    eventually(stored, what="both boots stored once, the reset and the duplicates counted")
