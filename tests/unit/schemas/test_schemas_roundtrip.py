"""Property tests: every valid body survives wire JSON → decode → envelope JSON → envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schemas_testkit import RECEIVED_AT, topic_for

from schemas import (
    BasketLine,
    BinLevel,
    Body,
    Cabinet,
    DeviceStatus,
    Envelope,
    MobilityPosition,
    MobilityTelemetry,
    RecyclingDropoff,
    RecyclingTelemetry,
    SlotStock,
    StoreCheckout,
    StoreGate,
    StoreTelemetry,
    TransitTap,
    TransitTelemetry,
    VendingSale,
    VendingTelemetry,
    decode,
    encode,
)
from schemas.catalog import message_type_of_kind
from schemas.decode import MAX_FUTURE_SKEW, MAX_PAST_AGE
from schemas.store import GateState
from schemas.transit import MEDIUM_PAYMENTS

ident = st.from_regex(r"\A[A-Za-z0-9_.:-]{1,64}\Z")
slot = st.from_regex(r"\A[A-Za-z0-9_-]{1,16}\Z")
code = st.from_regex(r"\A[A-Z][A-Z0-9_]{0,15}\Z")
pct = st.floats(0, 100)
temp = st.floats(-40, 85)
dbm = st.integers(-150, 0)
fen = st.integers(0, 10_000_000)
category = st.sampled_from(["recyclable", "hazardous", "kitchen", "other"])
vehicle_state = st.sampled_from(
    ["parked", "locked", "in_use", "in_service", "out_of_service", "charging", "maintenance"]
)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


pseudonym = st.from_regex(r"\A[A-Za-z0-9_.:=+/-]{1,64}\Z")
payment = st.sampled_from(["wechat", "alipay", "unionpay", "ecny", "transit_card", "cash"])
outcome = st.sampled_from(["success", "failed", "refunded"])
transit_mode = st.sampled_from(["bus", "metro", "bike"])


@st.composite
def checkouts(draw: st.DrawFn) -> StoreCheckout:
    """A basket whose amount and discount add up to its lines, as the model requires."""
    lines = draw(
        st.lists(
            st.builds(
                BasketLine,
                sku=ident,
                category=st.sampled_from(["beverage", "snack", "dairy", "frozen", "other"]),
                quantity=st.integers(1, 99),
                price_fen=st.integers(0, 1_000),  # the largest basket stays within Fen
            ),
            min_size=1,
            max_size=100,
        )
    )
    total = sum(line.quantity * line.price_fen for line in lines)
    discount = draw(st.integers(0, min(total, 10_000_000)))
    return StoreCheckout(
        txn_id=draw(ident),
        lines=lines,
        discount_fen=discount,
        amount_fen=total - discount,
        payment=draw(payment),
        outcome=draw(outcome),
        visitor_ref=draw(opt(pseudonym)),
    )


@st.composite
def taps(draw: st.DrawFn) -> TransitTap:
    """A tap whose payment suits its medium, as the model requires."""
    medium = draw(st.sampled_from(sorted(MEDIUM_PAYMENTS)))
    return TransitTap(
        txn_id=draw(ident),
        tap=draw(st.sampled_from(["in", "out", "single"])),
        mode=draw(transit_mode),
        line_id=draw(slot),
        stop_id=draw(ident),
        medium=medium,
        medium_ref=draw(pseudonym),
        payment=draw(st.sampled_from(sorted(MEDIUM_PAYMENTS[medium]))),
        fare_fen=draw(st.integers(0, 10_000)),
        transfer_discount=draw(st.booleans()),
        captured_offline=draw(st.booleans()),
    )


BODIES: dict[str, st.SearchStrategy[Body]] = {
    "vending_sale": st.builds(
        VendingSale,
        txn_id=ident,
        sku=ident,
        category=st.sampled_from(["water", "soft_drink", "tea", "coffee", "snack", "other"]),
        quantity=st.integers(1, 99),
        amount_fen=fen,
        payment=st.sampled_from(["wechat", "alipay", "unionpay", "ecny", "transit_card", "cash"]),
        outcome=st.sampled_from(["success", "failed", "refunded"]),
        slot=opt(slot),
    ),
    "vending_telemetry": st.builds(
        VendingTelemetry,
        temperature_c=temp,
        door_open=st.booleans(),
        stock_pct=opt(pct),
        slots=opt(st.lists(st.builds(SlotStock, slot=slot, stock_pct=pct), max_size=100)),
        signal_dbm=opt(dbm),
        error_codes=st.lists(code, max_size=16),
    ),
    "recycling_dropoff": st.builds(
        RecyclingDropoff,
        txn_id=ident,
        category=category,
        subtype=opt(st.from_regex(r"\A[a-z][a-z0-9_]{0,31}\Z")),
        weight_kg=st.floats(0, 200),
        resident_ref=st.from_regex(r"\A[A-Za-z0-9_.:=+/-]{1,64}\Z"),
        points_awarded=st.integers(0, 1_000_000),
        payout_fen=opt(fen),
    ),
    "recycling_telemetry": st.builds(
        RecyclingTelemetry,
        bins=st.lists(
            st.builds(BinLevel, category=category, filling_level_pct=pct, bin_id=opt(ident)),
            min_size=1,
            max_size=16,
        ),
        temperature_c=temp,
        smoke_alarm=st.booleans(),
        compactor=opt(st.sampled_from(["idle", "running", "fault"])),
    ),
    "mobility_position": st.builds(
        MobilityPosition,
        lat=st.floats(-90, 90),
        lon=st.floats(-180, 180),
        speed_kmh=opt(st.floats(0, 250)),
        heading_deg=opt(st.floats(0, 360, exclude_max=True)),
        altitude_m=opt(st.floats(-500, 9000)),
        satellites=opt(st.integers(0, 99)),
        hdop=opt(st.floats(0, 99.99)),
        fix=st.sampled_from(["none", "gps", "dgps", "rtk_fixed", "rtk_float", "dead_reckoning"]),
        battery_pct=opt(pct),
        state=opt(vehicle_state),
        asset_type=opt(st.sampled_from(["bike", "ebike", "bus", "delivery_vehicle"])),
    ),
    "mobility_telemetry": st.builds(
        MobilityTelemetry,
        battery_pct=opt(pct),
        state=opt(vehicle_state),
        odometer_km=opt(st.floats(0, 10_000_000)),
        signal_dbm=opt(dbm),
    ),
    "store_gate": st.builds(
        StoreGate,
        gate_id=ident,
        direction=st.sampled_from(["inbound", "outbound"]),
        method=st.sampled_from(["face", "qr", "card"]),
        visitor_ref=pseudonym,
    ),
    "store_checkout": checkouts(),
    "store_telemetry": st.builds(
        StoreTelemetry,
        people_count=st.integers(0, 1_000),
        occupancy_pct=opt(pct),
        cabinets=st.lists(
            st.builds(Cabinet, cabinet_id=ident, temperature_c=temp, set_point_c=opt(temp)),
            max_size=32,
        ),
        gates=st.lists(
            st.builds(GateState, gate_id=ident, fault=st.booleans()), min_size=1, max_size=16
        ),
        signal_dbm=opt(dbm),
    ),
    "transit_tap": taps(),
    "transit_telemetry": st.builds(
        TransitTelemetry,
        mode=transit_mode,
        in_service=st.booleans(),
        reader_fault=st.booleans(),
        queued_taps=st.integers(0, 1_000_000),
        signal_dbm=opt(dbm),
        temperature_c=opt(temp),
    ),
    "device_status": st.builds(
        DeviceStatus,
        state=st.sampled_from(["online", "offline"]),
        reason=opt(st.from_regex(r"\A[\x20-\x7e]{1,128}\Z")),
        firmware=opt(st.from_regex(r"\A[\x21-\x7e]{1,64}\Z")),
    ),
}

# Device times anywhere in the accepted window, at the millisecond precision of the wire.
timestamps = st.integers(
    -MAX_PAST_AGE // timedelta(milliseconds=1), MAX_FUTURE_SKEW // timedelta(milliseconds=1)
).map(lambda ms: RECEIVED_AT + timedelta(milliseconds=ms))


@pytest.mark.parametrize("kind", sorted(BODIES))
@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    ts=timestamps,
    seq=st.integers(0, 2**63 - 1),
    as_epoch_ms=st.booleans(),
)
def test_roundtrip_body_exact(
    kind: str, data: st.DataObject, ts: datetime, seq: int, as_epoch_ms: bool
) -> None:
    """Any valid body, sent with RFC 3339 or epoch-ms ts, decodes to itself and back from JSON."""
    body = data.draw(BODIES[kind])
    mt = message_type_of_kind(kind)
    wire_ts: datetime | int = ts
    if as_epoch_ms:
        wire_ts = (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    payload = encode(body, ts=wire_ts, seq=seq)
    env = decode(
        topic_for(mt.facilities[0].value, mt.channel.value), payload, received_at=RECEIVED_AT
    )
    assert env.body == body
    assert (env.ts, env.seq, env.v) == (ts, seq, 1)
    again = Envelope.model_validate_json(env.model_dump_json())
    assert again == env
    assert again.model_dump_json() == env.model_dump_json()


def test_roundtrip_strategies_cover_every_message_type() -> None:
    """A new message type cannot be added without a round-trip property."""
    from schemas import MESSAGE_TYPES

    assert set(BODIES) == {mt.kind for mt in MESSAGE_TYPES}
