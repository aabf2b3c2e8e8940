"""Synthetic envelopes with their truth, for the bench and the tests (deterministic, no I/O).

Not the simulator: no MQTT, no realism beyond what the streams need — a fleet of vending
machines, recycling stations and bikes over the ten Ningbo districts, each sending sales or
drop-offs, telemetry and positions with increasing seq. :class:`Truth` is computed from the
unique events, so a test can compare InfluxDB's totals with it exactly.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas import NINGBO_DISTRICT_LIST

__all__ = ["Fleet", "Record", "Truth"]

PAYMENTS = ("wechat", "alipay", "unionpay", "ecny", "transit_card", "cash")
PRODUCT_CATEGORIES = ("water", "soft_drink", "tea", "coffee", "snack")
WASTE_CATEGORIES = ("recyclable", "hazardous", "kitchen", "other")
FACILITIES = ("vending", "recycling", "mobility")
_WINDOW_MS = 60_000


@dataclass(frozen=True)
class Record:
    key: bytes
    value: bytes
    kind: str
    ts_ms: int


@dataclass
class Truth:
    """Counts and sums of the unique events, per dimension the dashboards show."""

    events: Counter[str] = field(default_factory=Counter)  # kind -> count
    sales: Counter[tuple[str, str]] = field(default_factory=Counter)  # (district, payment)
    fen: Counter[tuple[str, str]] = field(default_factory=Counter)
    dropoffs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (district, category)
    grams: Counter[tuple[str, str]] = field(default_factory=Counter)
    sales_per_window: Counter[int] = field(default_factory=Counter)
    gaps: int = 0


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds")


@dataclass
class Fleet:
    """``devices`` devices, one facility each (round robin), in districts round robin."""

    devices: int = 300
    start_ms: int = 1_746_072_000_000  # 2025-05-01T04:00:00Z
    seed: int = 7
    prefix: str = "dev"
    truth: Truth = field(default_factory=Truth)
    _seq: dict[str, int] = field(default_factory=dict)

    def device(self, i: int) -> tuple[str, str, str, str]:
        facility = FACILITIES[i % len(FACILITIES)]
        district = NINGBO_DISTRICT_LIST[(i // len(FACILITIES)) % len(NINGBO_DISTRICT_LIST)]
        return f"{self.prefix}-{i:05d}", facility, district.adcode, district.name_zh

    def records(
        self, n: int, *, span_ms: int = 300_000, rx_delay_ms: int = 500, skip_every: int = 0
    ) -> list[Record]:
        """``n`` new events spread over ``span_ms`` of device time, in time order.

        ``skip_every``: every that-many-th message of a device is never sent (a seq gap).
        """
        rng = random.Random(f"{self.seed}-{len(self._seq)}-{n}-{self.start_ms}")
        out: list[Record] = []
        for j in range(n):
            i = rng.randrange(self.devices)
            ts_ms = self.start_ms + span_ms * j // n
            device_id, facility, adcode, name = self.device(i)
            seq = self._seq.get(device_id, 0) + 1
            if skip_every and seq % skip_every == 0:
                seq += 1
                self.truth.gaps += 1
            self._seq[device_id] = seq
            record = self._record(rng, device_id, facility, adcode, name, seq, ts_ms, rx_delay_ms)
            out.append(record)
        self.start_ms += span_ms
        return out

    def _record(
        self,
        rng: random.Random,
        device_id: str,
        facility: str,
        adcode: str,
        name: str,
        seq: int,
        ts_ms: int,
        rx_delay_ms: int,
    ) -> Record:
        t = self.truth
        event = rng.random() < 0.6
        channel = "event" if event else "telemetry"
        body: dict[str, object]
        if facility == "vending" and event:
            payment = rng.choice(PAYMENTS)
            amount = rng.randrange(150, 1500, 50)
            body = {
                "kind": "vending_sale",
                "txn_id": f"T{seq}",
                "sku": "6901939621608",
                "category": rng.choice(PRODUCT_CATEGORIES),
                "quantity": 1,
                "amount_fen": amount,
                "payment": payment,
                "outcome": "success",
            }
            t.sales[(adcode, payment)] += 1
            t.fen[(adcode, payment)] += amount
            t.sales_per_window[ts_ms - ts_ms % _WINDOW_MS] += 1
        elif facility == "vending":
            body = {
                "kind": "vending_telemetry",
                "temperature_c": round(rng.uniform(2, 9), 1),
                "door_open": False,
                "stock_pct": float(rng.randrange(0, 100)),
            }
        elif facility == "recycling" and event:
            category = rng.choice(WASTE_CATEGORIES)
            grams = rng.randrange(50, 5000)
            body = {
                "kind": "recycling_dropoff",
                "txn_id": f"D{seq}",
                "category": category,
                "weight_kg": grams / 1000,
                "resident_ref": "r-1",
                "points_awarded": 2,
            }
            t.dropoffs[(adcode, category)] += 1
            t.grams[(adcode, category)] += grams
        elif facility == "recycling":
            body = {
                "kind": "recycling_telemetry",
                "bins": [{"category": "kitchen", "filling_level_pct": float(rng.randrange(100))}],
                "temperature_c": 21.0,
                "smoke_alarm": False,
            }
        else:
            channel = "position"
            body = {
                "kind": "mobility_position",
                "lat": 29.87 + rng.random() / 10,
                "lon": 121.55 + rng.random() / 10,
                "speed_kmh": float(rng.randrange(0, 25)),
                "battery_pct": 80.0,
                "state": "in_use",
                "asset_type": "bike",
            }
        t.events[str(body["kind"])] += 1
        envelope = {
            "device_id": device_id,
            "facility": facility,
            "vendor": "acme",
            "channel": channel,
            "ts": _iso(ts_ms),
            "seq": seq,
            "received_at": _iso(ts_ms + rx_delay_ms),
            "body": body,
            "enrichment": {
                "district_adcode": adcode,
                "district_name": name,
                "vendor": "acme",
                "asset_type": "bike" if facility == "mobility" else None,
                "expected_interval_s": 60,
            },
        }
        value = json.dumps(envelope, ensure_ascii=False).encode()
        return Record(device_id.encode(), value, str(body["kind"]), ts_ms)
