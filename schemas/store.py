"""Unmanned stores (无人超市、无人便利店): gate passes on ``gate``, checkouts on ``event``, store
state on ``telemetry``.

FIWARE alignment: a gate pass and the head count follow CrowdFlowObserved
(dataModel.Transportation): ``direction`` takes its values ``inbound``/``outbound``,
``people_count`` is its ``peopleCount`` (people inside at the reading) and ``occupancy_pct`` its
``occupancy`` as a percentage (like every other percentage here). No Smart Data Model covers a
retail transaction or a refrigerated cabinet: a checkout follows the vending sale (integer fen,
the city's payment methods and outcomes, ``schemas.common``), a cabinet the vending
compartment (``temperature_c``).

Visitors are pseudonyms only (a token the store's system issues per face, QR account or card),
never a face template, a name or a phone number.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from schemas.common import (
    Body,
    Fen,
    Identifier,
    Payment,
    PaymentOutcome,
    Percent,
    PseudonymRef,
    SignalDbm,
    Temperature,
    WireHeader,
)

__all__ = [
    "BasketLine",
    "Cabinet",
    "GateDirection",
    "GateMethod",
    "GateState",
    "StoreCategory",
    "StoreCheckout",
    "StoreCheckoutMessage",
    "StoreGate",
    "StoreGateMessage",
    "StoreTelemetry",
    "StoreTelemetryMessage",
]

# FIWARE CrowdFlowObserved's direction: inbound = entering the store, outbound = leaving it.
GateDirection = Literal["inbound", "outbound"]
# How the gate recognised the visitor: face (刷脸), a QR code (app or mini-program), a member card.
GateMethod = Literal["face", "qr", "card"]
# A closed set: it is a field of the raw point and must stay short to read on a dashboard.
StoreCategory = Literal[
    "beverage",
    "snack",
    "fresh_food",
    "dairy",
    "bakery",
    "frozen",
    "instant_food",
    "daily_goods",
    "other",
]

# A convenience-store basket is 1-10 lines; 100 is a scanning loop, not a shopper.
MAX_BASKET_LINES = 100
# A 100 m² store holds a few dozen people; 1,000 is a counter gone wrong.
MAX_PEOPLE = 1_000
# Chilled and frozen cabinets of a large unmanned supermarket; gates of its entrances.
MAX_CABINETS = 32
MAX_GATES = 16


class _GateFields(Body):
    gate_id: Identifier = Field(description="Which gate of the store, e.g. G1.")
    direction: GateDirection = Field(
        description="FIWARE direction: inbound enters, outbound leaves."
    )
    method: GateMethod
    visitor_ref: PseudonymRef


class StoreGate(_GateFields):
    """A visitor passed one of the store's gates, in or out."""

    kind: Literal["store_gate"] = "store_gate"


class StoreGateMessage(_GateFields, WireHeader):
    """Wire form of :class:`StoreGate` (topic ``city/store/{vendor}/{device_id}/gate``)."""


class BasketLine(Body):
    """One product line of a basket."""

    sku: Identifier
    category: StoreCategory
    quantity: int = Field(ge=1, le=99)
    price_fen: Fen = Field(description="Unit price, in fen.")


class _CheckoutFields(Body):
    txn_id: Identifier = Field(description="The store's transaction id, unique per store.")
    lines: list[BasketLine] = Field(min_length=1, max_length=MAX_BASKET_LINES)
    discount_fen: Fen = Field(0, description="Member or coupon discount on the basket, in fen.")
    amount_fen: Fen = Field(
        description="Amount charged, in fen: the sum of quantity × price_fen over the lines, "
        "minus discount_fen."
    )
    payment: Payment
    outcome: PaymentOutcome
    visitor_ref: PseudonymRef | None = Field(None, description="The shopper, as at the gate.")

    @field_validator("amount_fen")
    @classmethod
    def _adds_up(cls, value: int, info: ValidationInfo) -> int:
        lines, discount = info.data.get("lines"), info.data.get("discount_fen")
        if lines is None or discount is None:
            return value  # already refused for its own field
        total = sum(line.quantity * line.price_fen for line in lines)
        if value + discount != total:
            raise ValueError(
                f"amount_fen {value} + discount_fen {discount} must equal the basket's "
                f"sum of quantity × price_fen, {total}"
            )
        return value


class StoreCheckout(_CheckoutFields):
    """A basket paid (or not) at the store's self-checkout or grab-and-go exit."""

    kind: Literal["store_checkout"] = "store_checkout"


class StoreCheckoutMessage(_CheckoutFields, WireHeader):
    """Wire form of :class:`StoreCheckout` (topic ``city/store/{vendor}/{device_id}/event``)."""


class Cabinet(Body):
    """One refrigerated or frozen cabinet."""

    cabinet_id: Identifier
    temperature_c: Temperature
    set_point_c: Temperature | None = None


class GateState(Body):
    """One entry/exit gate (the store's doors): a jammed or broken gate reports a fault."""

    gate_id: Identifier
    fault: bool


class _TelemetryFields(Body):
    people_count: int = Field(
        ge=0, le=MAX_PEOPLE, description="FIWARE peopleCount: people inside at the reading."
    )
    occupancy_pct: Percent | None = Field(
        None, description="FIWARE occupancy, as % of the store's permitted capacity."
    )
    cabinets: list[Cabinet] = Field(default_factory=list, max_length=MAX_CABINETS)
    gates: list[GateState] = Field(min_length=1, max_length=MAX_GATES)
    signal_dbm: SignalDbm | None = None


class StoreTelemetry(_TelemetryFields):
    """Periodic store state: people inside, cabinet temperatures, gate faults."""

    kind: Literal["store_telemetry"] = "store_telemetry"


class StoreTelemetryMessage(_TelemetryFields, WireHeader):
    """Wire form of :class:`StoreTelemetry` (topic ``.../telemetry``)."""
