"""Vending machines (智能售货机): sales on ``event``, machine state on ``telemetry``.

No FIWARE Smart Data Model exists for vending machines; names follow EVA-DTS where one fits
(error codes such as ``EJH``), and payments follow how people pay in China (mostly QR codes).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.common import (
    Body,
    Code,
    Fen,
    Identifier,
    Payment,
    PaymentOutcome,
    Percent,
    SignalDbm,
    Temperature,
    WireHeader,
)

__all__ = [
    "Payment",
    "ProductCategory",
    "SaleOutcome",
    "SlotLabel",
    "SlotStock",
    "VendingSale",
    "VendingSaleMessage",
    "VendingTelemetry",
    "VendingTelemetryMessage",
]

# Payment methods are the city's one set (schemas.common), shared with stores and transit.
SaleOutcome = PaymentOutcome
# A closed set: category becomes an InfluxDB tag, and tags must stay low-cardinality.
ProductCategory = Literal[
    "water", "soft_drink", "tea", "coffee", "snack", "fresh_food", "daily_goods", "other"
]
SlotLabel = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9_-]{1,16}$", description="Lane/slot label, e.g. A3 or 12.")
]

# 30-60 lanes is typical; the bound keeps one message from carrying an unbounded list.
MAX_SLOTS = 100
MAX_ERROR_CODES = 16


class _SaleFields(Body):
    txn_id: Identifier = Field(description="Vendor's transaction id, unique per device.")
    sku: Identifier
    category: ProductCategory
    quantity: int = Field(ge=1, le=99)
    amount_fen: Fen = Field(description="Amount charged, in fen (1/100 CNY).")
    payment: Payment
    outcome: SaleOutcome
    slot: SlotLabel | None = None


class VendingSale(_SaleFields):
    """A vend: one transaction at one machine."""

    kind: Literal["vending_sale"] = "vending_sale"


class VendingSaleMessage(_SaleFields, WireHeader):
    """Wire form of :class:`VendingSale` (topic ``city/vending/{vendor}/{device_id}/event``)."""


class SlotStock(Body):
    """Fill level of one lane."""

    slot: SlotLabel
    stock_pct: Percent


class _TelemetryFields(Body):
    temperature_c: Temperature = Field(description="Compartment temperature, °C.")
    door_open: bool
    stock_pct: Percent | None = Field(None, description="Overall stock level, % of capacity.")
    slots: list[SlotStock] | None = Field(None, max_length=MAX_SLOTS)
    signal_dbm: SignalDbm | None = None
    error_codes: list[Code] = Field(
        default_factory=list,
        max_length=MAX_ERROR_CODES,
        description="Active EVA-DTS event codes, e.g. EJH (temperature rule violated).",
    )


class VendingTelemetry(_TelemetryFields):
    """Periodic machine state."""

    kind: Literal["vending_telemetry"] = "vending_telemetry"


class VendingTelemetryMessage(_TelemetryFields, WireHeader):
    """Wire form of :class:`VendingTelemetry` (topic ``.../telemetry``)."""
