"""Realistic points of the documented measurement contract (dashboards/README.md), for InfluxDB.

A data fixture, not a mock: the points go through InfluxDB's real ``/write`` and the panels' real
queries read them back. The devices come from the simulator's own fleet and the tag values from
the schemas' closed sets (payments, waste categories, asset types), so a renamed value breaks
the test. Alerts come from the alert engine's own serialiser (``streams.alerts.line``).
Replace with the MQTT → collectors → streams run once streams writes these measurements.
"""

from __future__ import annotations

import random
import typing
from collections.abc import Iterator
from datetime import datetime, timedelta

from schemas import Facility, RejectReason
from schemas.mobility import AssetType
from schemas.recycling import WasteCategory
from schemas.vending import Payment
from simulator.fleet import Fleet
from streams.alerts.line import alert_point
from streams.alerts.model import Alert, Severity

__all__ = ["MINUTES", "alert_lines", "contract_lines"]

MINUTES = 40  # 40 one-minute windows ending at the current minute, so "today" is never empty
PAYMENTS: tuple[str, ...] = typing.get_args(Payment)
CATEGORIES: tuple[str, ...] = typing.get_args(WasteCategory)
ASSETS: tuple[str, ...] = typing.get_args(AssetType)


def _line(measurement: str, tags: dict[str, str], fields: dict[str, object], ts: int) -> str:
    tag_text = "".join(f",{k}={v}" for k, v in sorted(tags.items()))
    parts = []
    for key, value in fields.items():
        if isinstance(value, bool):
            parts.append(f"{key}={'true' if value else 'false'}")
        elif isinstance(value, int):
            parts.append(f"{key}={value}i")
        else:
            parts.append(f"{key}={value}")
    return f"{measurement}{tag_text} {','.join(parts)} {ts}"


def contract_lines(fleet: Fleet, *, now: datetime, seed: int = 7) -> Iterator[str]:
    """Line protocol (ms precision) for every measurement the dashboards read."""
    rng = random.Random(seed)
    minute0 = now.replace(second=0, microsecond=0) - timedelta(minutes=MINUTES - 1)
    for m in range(MINUTES):
        start = minute0 + timedelta(minutes=m)
        ts = int(start.timestamp() * 1000)
        online: dict[tuple[str, str], list[int]] = {}
        for device in fleet.devices:
            base = {"district": device.district, "vendor": device.vendor}
            is_online = rng.random() > 0.05
            counts = online.setdefault((device.district, device.facility.value), [0, 0])
            counts[0] += int(is_online)
            counts[1] += 1
            yield _line(
                "device_health",
                {**base, "facility": device.facility.value, "device": device.device_id},
                {
                    "online": int(is_online),
                    "age_s": rng.uniform(1, 1500 if not is_online else 300),
                    "seq_gaps": int(rng.random() < 0.02),
                },
                ts,
            )
            if device.facility is Facility.VENDING:
                yield from _vending(rng, base, device.device_id, ts)
            elif device.facility is Facility.RECYCLING:
                yield from _recycling(rng, base, device.device_id, ts)
            else:
                yield from _mobility(rng, base, device, ts)
        for (district, facility), (up, registered) in online.items():
            yield _line(
                "device_online",
                {"district": district, "facility": facility},
                {"online": up, "offline": registered - up, "registered": registered},
                ts,
            )
        yield from _platform(rng, ts, m)


def alert_lines(fleet: Fleet, *, now: datetime) -> list[str]:
    """``alerts`` points from the alert engine's own serialiser (nanosecond timestamps)."""
    lines = []
    for i, device in enumerate(fleet.by_facility(Facility.VENDING)[:3]):
        labels = {"district": device.district, "facility": "vending", "vendor": device.vendor}
        alert = Alert(
            status="firing",
            fingerprint=f"{i:016x}",
            rule="vending_temperature_high",
            rule_type="threshold",
            severity=Severity.WARNING,
            device_id=device.device_id,
            labels=labels,
            summary_zh="售货机温度过高",
            summary_en="Vending machine too warm",
            starts_at=now - timedelta(minutes=20 - i),
            value=11.5,
        )
        lines.append(alert_point(alert))
        if i == 0:  # one of them resolved again, as the engine would send it
            resolved = alert.model_copy(update={"status": "resolved", "ends_at": now})
            lines.append(alert_point(resolved))
    return lines


def _vending(rng: random.Random, base: dict[str, str], device: str, ts: int) -> Iterator[str]:
    for payment in rng.sample(PAYMENTS, 2):
        count = rng.randint(1, 3)
        yield _line(
            "vending_sale_1m",
            {**base, "facility": "vending", "payment": payment},
            {"count": count, "amount_fen": count * rng.choice((300, 450, 1200))},
            ts,
        )
    temp = rng.uniform(4, 9)
    yield _line(
        "vending_telemetry_1m",
        {**base, "device": device},
        {
            "temperature_c_min": temp - 0.5,
            "temperature_c_max": temp + 0.5,
            "temperature_c_mean": temp,
            "stock_pct_min": rng.uniform(5, 60),
            "stock_pct_mean": rng.uniform(40, 90),
        },
        ts,
    )


def _recycling(rng: random.Random, base: dict[str, str], device: str, ts: int) -> Iterator[str]:
    category = rng.choice(CATEGORIES)
    count = rng.randint(1, 4)
    yield _line(
        "recycling_dropoff_1m",
        {**base, "facility": "recycling", "category": category},
        {
            "count": count,
            "weight_kg": round(count * rng.lognormvariate(-0.7, 0.6), 3),
            "payout_fen": count * 30,
        },
        ts,
    )
    for category in CATEGORIES:
        yield _line(
            "recycling_telemetry_1m",
            {**base, "device": device, "category": category},
            {
                "filling_level_pct_max": rng.uniform(10, 95),
                "temperature_c_max": rng.uniform(15, 30),
                "smoke_alarm_count": int(rng.random() < 0.01),
            },
            ts,
        )


def _mobility(rng: random.Random, base: dict[str, str], device: object, ts: int) -> Iterator[str]:
    from simulator.fleet import Device

    assert isinstance(device, Device)
    asset = device.asset_type or "bike"
    speed = rng.uniform(0, 25 if asset != "bus" else 50)
    yield _line(
        "mobility_position",
        {**base, "device": device.device_id, "asset_type": asset},
        {
            "lat": device.lat + rng.uniform(-0.01, 0.01),
            "lon": device.lon + rng.uniform(-0.01, 0.01),
            "speed_kmh": speed,
        },
        ts,
    )
    yield _line(
        "mobility_position_1m",
        {**base, "asset_type": asset},
        {
            "count": 4,
            "devices": 1,
            "trips": int(rng.random() < 0.3),
            "speed_kmh_mean": speed,
            "speed_kmh_max": speed * 1.3,
        },
        ts,
    )


def _platform(rng: random.Random, ts: int, minute: int) -> Iterator[str]:
    for component in ("collector", "streams"):
        messages = rng.randint(5000, 7000)
        yield _line(
            "platform_stats",
            {"component": component, "instance": f"{component}-0"},
            {
                "messages_in": messages,
                "messages_out": messages - 3,
                "kafka_lag": rng.randint(0, 2000) if component == "streams" else 0,
                "points_written": messages * 2 if component == "streams" else 0,
                "write_errors": int(minute % 17 == 0),
                "deadletters": 3 if component == "collector" else 0,
            },
            ts,
        )
    for reason in (RejectReason.BAD_JSON, RejectReason.INVALID_FIELD):
        yield _line(
            "platform_deadletters",
            {"component": "collector", "reason": reason.value},
            {"count": rng.randint(0, 3)},
            ts,
        )
