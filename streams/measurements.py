"""What each kind of device message becomes in InfluxDB: the one table to extend per facility.

A :class:`Measurement` says, for one body ``kind``: its raw point's fields, the tags that split its
roll-ups beyond district × facility × vendor (payment and outcome for sales, category for
drop-offs), the values summed per window (counts, fen, kg), the values whose min/max/mean a
window keeps (telemetry), and what it adds to the city's consumption (money paid, by payment
method, whatever the facility: :data:`CONSUMPTION`). Adding a facility adds rows here; the
pipeline needs no change.

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
    StoreCheckout,
    StoreGate,
    StoreTelemetry,
    TransitTap,
    TransitTelemetry,
    VendingSale,
    VendingTelemetry,
)
from schemas.common import Body
from streams.lineproto import FieldValue

__all__ = ["CONSUMPTION", "MEASUREMENTS", "Measurement", "Number", "Payment"]

Number = int | float
Fields = dict[str, FieldValue | None]
# A payment the city's consumption counts: (payment method, fen).
Payment = tuple[str, int]
# The roll-up every paying facility adds to: ``consumption_1m``, split by ``payment``, with
# ``count`` and ``amount_fen`` per district × facility × vendor (no per-device roll-up).
CONSUMPTION = "consumption"


@dataclass(frozen=True)
class Measurement:
    """How one body kind is written: raw fields, roll-up split tags, sums and statistics, and
    the payment it adds to the city's consumption (None: it paid nothing)."""

    kind: str
    raw_fields: Callable[[Body], Fields]
    split_tags: Callable[[Body], tuple[tuple[str, str], ...]] = lambda _: ()
    sums: Callable[[Body], Mapping[str, Number]] = lambda _: {}
    stats: Callable[[Body], Mapping[str, float]] = lambda _: {}
    rollup: bool = True
    consumption: Callable[[Body], Payment | None] = lambda _: None


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


def _sale_paid(b: Body) -> Payment | None:
    assert isinstance(b, VendingSale)
    # A failed vend charged nothing, a refunded one was paid back: revenue is the successes.
    return (b.payment, b.amount_fen) if b.outcome == "success" else None


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


# -- store ---------------------------------------------------------------------------------
def _gate_fields(b: Body) -> Fields:
    assert isinstance(b, StoreGate)
    # The visitor's pseudonym stays out of InfluxDB: it would be a series key in all but name.
    return {"gate_id": b.gate_id, "direction": b.direction, "method": b.method}


def _gate_split(b: Body) -> tuple[tuple[str, str], ...]:
    assert isinstance(b, StoreGate)
    return (("direction", b.direction), ("method", b.method))


def _checkout_fields(b: Body) -> Fields:
    assert isinstance(b, StoreCheckout)
    return {
        "amount_fen": b.amount_fen,
        "discount_fen": b.discount_fen,
        "items": sum(line.quantity for line in b.lines),
        "lines": len(b.lines),
        "payment": b.payment,
        "outcome": b.outcome,
        "txn_id": b.txn_id,
    }


def _checkout_split(b: Body) -> tuple[tuple[str, str], ...]:
    assert isinstance(b, StoreCheckout)
    return (("outcome", b.outcome), ("payment", b.payment))


def _checkout_sums(b: Body) -> Mapping[str, Number]:
    assert isinstance(b, StoreCheckout)
    return {
        "amount_fen": b.amount_fen,
        "discount_fen": b.discount_fen,
        "items": sum(line.quantity for line in b.lines),
        "lines": len(b.lines),
    }


def _checkout_paid(b: Body) -> Payment | None:
    assert isinstance(b, StoreCheckout)
    return (b.payment, b.amount_fen) if b.outcome == "success" else None


def _chilled_max(b: StoreTelemetry) -> float | None:
    """The warmest chilled cabinet (set point above 0 °C, or unknown), °C."""
    temps = [
        float(c.temperature_c) for c in b.cabinets if c.set_point_c is None or c.set_point_c > 0
    ]
    return max(temps, default=None)


def _store_tel_fields(b: Body) -> Fields:
    assert isinstance(b, StoreTelemetry)
    frozen = [
        float(c.temperature_c)
        for c in b.cabinets
        if c.set_point_c is not None and c.set_point_c <= 0
    ]
    return {
        "people_count": b.people_count,
        "occupancy_pct": _f(b.occupancy_pct),
        "chilled_max_c": _chilled_max(b),
        "frozen_max_c": max(frozen, default=None),
        "cabinets": len(b.cabinets),
        "gates": len(b.gates),
        "gate_faults": sum(g.fault for g in b.gates),
        "signal_dbm": b.signal_dbm,
    }


def _store_tel_stats(b: Body) -> Mapping[str, float]:
    assert isinstance(b, StoreTelemetry)
    out = {
        "people_count": float(b.people_count),
        "gate_faults": float(sum(g.fault for g in b.gates)),
    }
    chilled = _chilled_max(b)
    if chilled is not None:
        out["chilled_max_c"] = chilled
    return out


# -- transit -------------------------------------------------------------------------------
def _tap_fields(b: Body) -> Fields:
    assert isinstance(b, TransitTap)
    # The medium's pseudonym stays out of InfluxDB (the streams pair journeys with it).
    return {
        "tap": b.tap,
        "mode": b.mode,
        "line": b.line_id,
        "stop_id": b.stop_id,
        "medium": b.medium,
        "payment": b.payment,
        "fare_fen": b.fare_fen,
        "transfer_discount": b.transfer_discount,
        "captured_offline": b.captured_offline,
        "txn_id": b.txn_id,
    }


def _tap_split(b: Body) -> tuple[tuple[str, str], ...]:
    assert isinstance(b, TransitTap)
    return (("line", b.line_id), ("mode", b.mode), ("tap", b.tap))


def _tap_sums(b: Body) -> Mapping[str, Number]:
    assert isinstance(b, TransitTap)
    return {
        "fare_fen": b.fare_fen,
        "transfers": int(b.transfer_discount),
        "offline": int(b.captured_offline),
    }


def _tap_paid(b: Body) -> Payment | None:
    assert isinstance(b, TransitTap)
    return (b.payment, b.fare_fen) if b.fare_fen else None


def _transit_tel_fields(b: Body) -> Fields:
    assert isinstance(b, TransitTelemetry)
    return {
        "mode": b.mode,
        "in_service": b.in_service,
        "reader_fault": b.reader_fault,
        "queued_taps": b.queued_taps,
        "signal_dbm": b.signal_dbm,
        "temperature_c": _f(b.temperature_c),
    }


def _transit_tel_stats(b: Body) -> Mapping[str, float]:
    assert isinstance(b, TransitTelemetry)
    return {"queued_taps": float(b.queued_taps)}


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
        Measurement("vending_sale", _sale_fields, _sale_split, _sale_sums, consumption=_sale_paid),
        Measurement("vending_telemetry", _vending_tel_fields, stats=_vending_tel_stats),
        Measurement("recycling_dropoff", _dropoff_fields, _dropoff_split, _dropoff_sums),
        Measurement("recycling_telemetry", _recycling_tel_fields, stats=_recycling_tel_stats),
        Measurement("mobility_position", _position_fields, _position_split, stats=_position_stats),
        Measurement("mobility_telemetry", _mobility_tel_fields, stats=_mobility_tel_stats),
        Measurement("store_gate", _gate_fields, _gate_split),
        Measurement(
            "store_checkout",
            _checkout_fields,
            _checkout_split,
            _checkout_sums,
            consumption=_checkout_paid,
        ),
        Measurement("store_telemetry", _store_tel_fields, stats=_store_tel_stats),
        Measurement("transit_tap", _tap_fields, _tap_split, _tap_sums, consumption=_tap_paid),
        Measurement("transit_telemetry", _transit_tel_fields, stats=_transit_tel_stats),
        Measurement("device_status", _status_fields, rollup=False),
    )
}
