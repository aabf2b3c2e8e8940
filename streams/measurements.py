"""What each kind of device message becomes in InfluxDB: the one table to extend per facility.

A :class:`Measurement` says, for one body ``kind``: its raw point's fields, the tags that split its
roll-ups beyond district × facility × vendor (payment and outcome for sales, category for
drop-offs), the values summed per window (counts, fen, kg) and the values whose min/max/mean a
window keeps (telemetry). Adding a facility adds rows here; the pipeline needs no change.

Field types never change: ints stay ints (``i`` suffix), everything measured is a float.
Kilograms are also summed as integer grams (``weight_g``) so that totals compare exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from schemas import (
    DeviceStatus,
    MobilityPosition,
    MobilityTelemetry,
    RecyclingDropoff,
    RecyclingTelemetry,
    VendingSale,
    VendingTelemetry,
)
from schemas.common import Body
from streams.lineproto import FieldValue

__all__ = ["MEASUREMENTS", "Measurement", "Number"]

Number = int | float
Fields = dict[str, FieldValue | None]


@dataclass(frozen=True)
class Measurement:
    """How one body kind is written: raw fields, roll-up split tags, sums and statistics."""

    kind: str
    raw_fields: Callable[[Body], Fields]
    split_tags: Callable[[Body], tuple[tuple[str, str], ...]] = lambda _: ()
    sums: Callable[[Body], Mapping[str, Number]] = lambda _: {}
    stats: Callable[[Body], Mapping[str, float]] = lambda _: {}
    rollup: bool = True


def _f(value: float | None) -> float | None:
    return None if value is None else float(value)


# -- vending -------------------------------------------------------------------------------
def _sale_fields(b: Body) -> Fields:
    assert isinstance(b, VendingSale)
    return {
        "amount_fen": b.amount_fen,
        "quantity": b.quantity,
        "payment": b.payment,
        "outcome": b.outcome,
        "category": b.category,
        "sku": b.sku,
        "txn_id": b.txn_id,
        "slot": b.slot,
    }


def _sale_split(b: Body) -> tuple[tuple[str, str], ...]:
    assert isinstance(b, VendingSale)
    return (("outcome", b.outcome), ("payment", b.payment))


def _sale_sums(b: Body) -> Mapping[str, Number]:
    assert isinstance(b, VendingSale)
    return {"amount_fen": b.amount_fen, "quantity": b.quantity}


def _vending_tel_fields(b: Body) -> Fields:
    assert isinstance(b, VendingTelemetry)
    return {
        "temperature_c": float(b.temperature_c),
        "door_open": b.door_open,
        "stock_pct": _f(b.stock_pct),
        "stock_min_pct": min((float(s.stock_pct) for s in b.slots), default=None)
        if b.slots
        else None,
        "signal_dbm": b.signal_dbm,
        "error_count": len(b.error_codes),
        "error_codes": " ".join(b.error_codes) if b.error_codes else None,
    }


def _vending_tel_stats(b: Body) -> Mapping[str, float]:
    assert isinstance(b, VendingTelemetry)
    out = {"temperature_c": float(b.temperature_c)}
    if b.stock_pct is not None:
        out["stock_pct"] = float(b.stock_pct)
    return out


# -- recycling -----------------------------------------------------------------------------
def _dropoff_fields(b: Body) -> Fields:
    assert isinstance(b, RecyclingDropoff)
    return {
        "weight_kg": float(b.weight_kg),
        "weight_g": round(b.weight_kg * 1000),
        "points": b.points_awarded,
        "payout_fen": b.payout_fen,
        "category": b.category,
        "subtype": b.subtype,
        "txn_id": b.txn_id,
    }


def _dropoff_split(b: Body) -> tuple[tuple[str, str], ...]:
    assert isinstance(b, RecyclingDropoff)
    return (("category", b.category),)


def _dropoff_sums(b: Body) -> Mapping[str, Number]:
    assert isinstance(b, RecyclingDropoff)
    return {
        "weight_kg": float(b.weight_kg),
        "weight_g": round(b.weight_kg * 1000),
        "points": b.points_awarded,
        "payout_fen": b.payout_fen or 0,
    }


def _fill_by_category(b: RecyclingTelemetry) -> dict[str, float]:
    fills: dict[str, float] = {}
    for level in b.bins:
        key = f"fill_{level.category}_pct"
        fills[key] = max(fills.get(key, 0.0), float(level.filling_level_pct))
    return fills


def _recycling_tel_fields(b: Body) -> Fields:
    assert isinstance(b, RecyclingTelemetry)
    fields: Fields = {
        "temperature_c": float(b.temperature_c),
        "smoke_alarm": b.smoke_alarm,
        "compactor": b.compactor,
        "fill_max_pct": max(float(level.filling_level_pct) for level in b.bins),
    }
    fields.update(_fill_by_category(b))
    return fields


def _recycling_tel_stats(b: Body) -> Mapping[str, float]:
    assert isinstance(b, RecyclingTelemetry)
    return {
        "temperature_c": float(b.temperature_c),
        "fill_max_pct": max(float(level.filling_level_pct) for level in b.bins),
    }


# -- mobility ------------------------------------------------------------------------------
def _position_fields(b: Body) -> Fields:
    assert isinstance(b, MobilityPosition)
    return {
        "lat": float(b.lat),
        "lon": float(b.lon),
        "speed_kmh": _f(b.speed_kmh),
        "heading_deg": _f(b.heading_deg),
        "altitude_m": _f(b.altitude_m),
        "satellites": b.satellites,
        "hdop": _f(b.hdop),
        "fix": b.fix,
        "battery_pct": _f(b.battery_pct),
        "state": b.state,
    }


def _position_split(b: Body) -> tuple[tuple[str, str], ...]:
    assert isinstance(b, MobilityPosition)
    return (("state", b.state or "unknown"),)


def _position_stats(b: Body) -> Mapping[str, float]:
    assert isinstance(b, MobilityPosition)
    out: dict[str, float] = {}
    if b.speed_kmh is not None:
        out["speed_kmh"] = float(b.speed_kmh)
    if b.battery_pct is not None:
        out["battery_pct"] = float(b.battery_pct)
    return out


def _mobility_tel_fields(b: Body) -> Fields:
    assert isinstance(b, MobilityTelemetry)
    return {
        "battery_pct": _f(b.battery_pct),
        "state": b.state,
        "odometer_km": _f(b.odometer_km),
        "signal_dbm": b.signal_dbm,
    }


def _mobility_tel_stats(b: Body) -> Mapping[str, float]:
    assert isinstance(b, MobilityTelemetry)
    return {} if b.battery_pct is None else {"battery_pct": float(b.battery_pct)}


# -- every facility ------------------------------------------------------------------------
def _status_fields(b: Body) -> Fields:
    assert isinstance(b, DeviceStatus)
    return {
        "state": b.state,
        "online": b.state == "online",
        "reason": b.reason,
        "firmware": b.firmware,
    }


MEASUREMENTS: dict[str, Measurement] = {
    m.kind: m
    for m in (
        Measurement("vending_sale", _sale_fields, _sale_split, _sale_sums),
        Measurement("vending_telemetry", _vending_tel_fields, stats=_vending_tel_stats),
        Measurement("recycling_dropoff", _dropoff_fields, _dropoff_split, _dropoff_sums),
        Measurement("recycling_telemetry", _recycling_tel_fields, stats=_recycling_tel_stats),
        Measurement("mobility_position", _position_fields, _position_split, stats=_position_stats),
        Measurement("mobility_telemetry", _mobility_tel_fields, stats=_mobility_tel_stats),
        Measurement("device_status", _status_fields, rollup=False),
    )
}
