"""Transit one card / one code (一卡通行、一码通行): validator taps on ``event``, validator state on
``telemetry``.

A validator (验票机) stands at a metro gate, rides a bus, or unlocks a public-bike dock. A rider
taps in and (on metro, distance-fare buses and bikes) taps out with one *medium*: a transit card
(宁波市民卡 / 交通联合卡), a ride QR code, a phone's NFC (a transit card or UnionPay in the
phone) or an e-CNY hard wallet. The streams pair a medium's tap in with its tap out into a
journey; on a flat-fare bus one tap (``single``) pays the whole ride and is a journey by itself.

FIWARE alignment: ``line_id`` and ``stop_id`` name a GtfsRoute and a GtfsStop
(dataModel.UrbanMobility, GTFS ``route_id``/``stop_id``); ``mode`` is GtfsRoute's ``routeType``
by name (bus, metro; bikes are not GTFS). No Smart Data Model covers a fare transaction: a tap
follows the vending sale (integer fen, the city's payment methods, ``schemas.common``).

A validator without its network keeps taps and uploads them when back (``captured_offline``),
with their original time as ``ts``; they may arrive minutes late.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from schemas.common import (
    Body,
    Fen,
    Identifier,
    Payment,
    PseudonymRef,
    SignalDbm,
    Temperature,
    WireHeader,
)

__all__ = [
    "MEDIUM_PAYMENTS",
    "LineId",
    "Medium",
    "TapDirection",
    "TransitMode",
    "TransitTap",
    "TransitTapMessage",
    "TransitTelemetry",
    "TransitTelemetryMessage",
]

TransitMode = Literal["bus", "metro", "bike"]
# in: boarding, entering, renting; out: alighting, leaving, returning; single: the one tap of a
# flat-fare ride (most city buses), a journey by itself.
TapDirection = Literal["in", "out", "single"]
# card: a stored-value transit card; qr: a ride code on a phone; nfc: a transit card or UnionPay
# card inside a phone; ecny_wallet: an e-CNY hard wallet (a card or wearable, 硬钱包).
Medium = Literal["card", "qr", "nfc", "ecny_wallet"]
# A line id becomes an InfluxDB tag (taps by line): a short code, e.g. M1, B502, PB-HS.
LineId = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9_-]{1,16}$", description="Line (GTFS route_id), e.g. M1 or B502."),
]

# Which payment method each medium can clear through: a card pays from its stored value, a ride
# code through the wallet that issued it, NFC through the card in the phone, a hard wallet in
# e-CNY. A tap outside this table is a vendor mapping error.
MEDIUM_PAYMENTS: dict[str, frozenset[str]] = {
    "card": frozenset({"transit_card"}),
    "qr": frozenset({"wechat", "alipay", "unionpay", "ecny"}),
    "nfc": frozenset({"transit_card", "unionpay", "ecny"}),
    "ecny_wallet": frozenset({"ecny"}),
}
# Ningbo's longest metro journey costs under 10 CNY and a bus ride 1-4 CNY; 100 CNY is a decimal
# point in the wrong place.
MAX_FARE_FEN = 10_000
# A validator offline for a day at a busy stop holds a few thousand taps.
MAX_QUEUED_TAPS = 1_000_000


class _TapFields(Body):
    txn_id: Identifier = Field(description="The validator's transaction id, unique per device.")
    tap: TapDirection = Field(
        description="in: boarding or entering; out: alighting or leaving; single: the one tap "
        "of a flat-fare ride."
    )
    mode: TransitMode
    line_id: LineId
    stop_id: Identifier = Field(description="Stop or station (GTFS stop_id), e.g. M1-12.")
    medium: Medium
    medium_ref: PseudonymRef = Field(
        description="Pseudonymous medium reference: the same for a card or code across taps."
    )
    payment: Payment = Field(description="How the fare clears; must suit the medium.")
    fare_fen: Annotated[Fen, Field(le=MAX_FARE_FEN)] = Field(
        description="Fare charged at this tap, in fen (0 where the fare is charged at the other "
        "end: a metro tap in)."
    )
    transfer_discount: bool = Field(
        False, description="The fare was reduced as a transfer from an earlier ride."
    )
    captured_offline: bool = Field(
        False, description="Captured while the validator was offline; ts is the tap's own time."
    )

    @field_validator("payment")
    @classmethod
    def _suits_medium(cls, value: str, info: ValidationInfo) -> str:
        medium = info.data.get("medium")
        if medium is not None and value not in MEDIUM_PAYMENTS[medium]:
            allowed = sorted(MEDIUM_PAYMENTS[medium])
            raise ValueError(f"a {medium} tap pays with one of {allowed}, not {value!r}")
        return value


class TransitTap(_TapFields):
    """A medium tapped a validator, in or out."""

    kind: Literal["transit_tap"] = "transit_tap"


class TransitTapMessage(_TapFields, WireHeader):
    """Wire form of :class:`TransitTap` (topic ``city/transit/{vendor}/{device_id}/event``)."""


class _TelemetryFields(Body):
    mode: TransitMode
    in_service: bool = Field(description="Accepting taps (false outside service hours too).")
    reader_fault: bool = Field(description="The card/QR reader fails its self-test.")
    queued_taps: int = Field(
        0, ge=0, le=MAX_QUEUED_TAPS, description="Taps captured offline, not yet uploaded."
    )
    signal_dbm: SignalDbm | None = None
    temperature_c: Temperature | None = None


class TransitTelemetry(_TelemetryFields):
    """Periodic validator state."""

    kind: Literal["transit_telemetry"] = "transit_telemetry"


class TransitTelemetryMessage(_TelemetryFields, WireHeader):
    """Wire form of :class:`TransitTelemetry` (topic ``.../telemetry``)."""
