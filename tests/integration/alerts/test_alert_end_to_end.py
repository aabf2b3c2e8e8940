"""Simulated faults through the shipped rules, the engine and the notifier to a real receiver.

A fridge warms, a bin fills, a bike rides out of Ningbo, a machine goes silent; every message is
delivered twice (QoS 1 redelivery). Each fault must reach the receiver as exactly one firing and
one resolved notification, with a valid signature.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from http_receiver import Received, receiver

from core.settings.alert import WebhookEndpoint
from schemas import Enrichment, Envelope
from schemas.alert import Alert
from schemas.catalog import message_type_of_kind
from streams.alerts.engine import AlertEngine
from streams.alerts.rules import load_rules
from streams.alerts.state import DeviceAlerts
from streams.alerts.webhooks.notifier import JsonLinesDeadLetter, Notifier

SECRET = "e2e-secret"
T0 = datetime(2025, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Ningbo
YUYAO = (30.05, 121.0)  # inside Ningbo
SHANGYU = (30.05, 120.75)  # across the western border, in Shaoxing


def _env(kind: str, device: str, minute: float, seq: int, **fields: Any) -> Envelope:
    mt = message_type_of_kind(kind)
    ts = T0 + timedelta(minutes=minute)
    vendor = {"vending": "nbvend", "recycling": "greenbox", "mobility": "citybike"}
    interval = fields.pop("expected_interval_s", None)
    return Envelope(
        device_id=device,
        facility=mt.facilities[0],
        vendor=vendor[mt.facilities[0].value],
        channel=mt.channel,
        ts=ts,
        seq=seq,
        received_at=ts,
        body=mt.body.model_validate(fields),
        enrichment=Enrichment(district_adcode="330281", expected_interval_s=interval),
    )


def _timeline() -> list[Envelope]:
    out: list[Envelope] = []
    for step in range(0, 19):  # 0..90 min, every 5 min
        m = step * 5
        temp = 12.0 if 10 <= m < 60 else 6.0  # warm from 10 to 60: fires at 40, resolves at 60
        out.append(
            _env("vending_telemetry", "VM-FRIDGE", m, step, temperature_c=temp, door_open=False)
        )
        level = min(95.0, 50.0 + m) if m < 70 else 5.0  # fills past 85 at 35, emptied at 70
        bins = [{"category": "kitchen", "filling_level_pct": level, "bin_id": "B1"}]
        out.append(
            _env(
                "recycling_telemetry",
                "RS-BIN",
                m,
                step,
                bins=bins,
                temperature_c=20.0,
                smoke_alarm=False,
            )
        )
    for half in range(0, 181):  # 0..90 min, every 30 s
        m = half / 2
        lat, lon = SHANGYU if 20 <= m < 30 else YUYAO
        out.append(_env("mobility_position", "EB-1", m, half, lat=lat, lon=lon, asset_type="bike"))
    for m in [*range(0, 21), *range(45, 91)]:  # silent from 20 to 45 min
        out.append(
            _env(
                "vending_telemetry",
                "VM-QUIET",
                m,
                m,
                temperature_c=5.0,
                door_open=False,
                expected_interval_s=60,
            )
        )
    out.sort(key=lambda e: e.received_at)
    return out


def test_alerting_simulated_faults_fire_and_resolve_once_at_receiver(tmp_path: Path) -> None:
    """Four faults → four firing + four resolved notifications, each once, each signed."""

    async def main() -> list[Received]:
        engine = AlertEngine(load_rules())
        states: dict[str, DeviceAlerts] = {}
        published: list[Alert] = []
        dead = JsonLinesDeadLetter(tmp_path / "dead.jsonl")
        async with receiver({}) as rec:
            endpoint = WebhookEndpoint.model_validate(
                {"name": "ops", "url": rec.url("/hook"), "secret": SECRET}
            )
            async with Notifier([endpoint], dead_letter=dead) as notifier:

                def publish(changes: list[Alert]) -> None:
                    published.extend(changes)
                    for alert in changes:
                        notifier.submit(alert)

                next_tick = T0
                for env in _timeline():
                    while next_tick <= env.received_at:  # the worker's 30 s timer
                        for device, state in list(states.items()):
                            states[device], changes, _ = engine.tick(state, next_tick)
                            publish(changes)
                        next_tick += timedelta(seconds=30)
                    for _ in range(2):  # every message twice: redelivery
                        state = states.get(env.device_id)
                        states[env.device_id], changes, _ = engine.evaluate(
                            state, env, env.received_at
                        )
                        publish(changes)
                await notifier.join()
            assert dead.read() == []
            assert len(published) == 8  # 4 faults × (firing, resolved), replays included
            return rec.requests

    requests = asyncio.run(main())
    by_rule: dict[str, list[str]] = defaultdict(list)
    keys = []
    for r in requests:
        timestamp = r.headers["X-Cityiot-Timestamp"]
        mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + r.body, hashlib.sha256)
        assert r.headers["X-Cityiot-Signature"] == "sha256=" + mac.hexdigest()
        alert = Alert.model_validate_json(r.body)
        by_rule[f"{alert.rule}/{alert.device_id}"].append(alert.status)
        keys.append(r.headers["Idempotency-Key"])
    assert dict(by_rule) == {
        "vending-fridge-too-warm/VM-FRIDGE": ["firing", "resolved"],
        "recycling-bin-almost-full/RS-BIN": ["firing", "resolved"],
        "bike-outside-service-area/EB-1": ["firing", "resolved"],
        "device-silent/VM-QUIET": ["firing", "resolved"],
    }
    assert len(keys) == len(set(keys))
