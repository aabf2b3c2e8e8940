"""Smart recycling stations (智能回收站): drop-offs on ``event``, bin state on ``telemetry``.

Aligned with FIWARE WasteContainer where a counterpart exists: ``filling_level_pct`` is
``fillingLevel`` (as a percentage instead of a 0-1 ratio, like every other percentage here),
``weight_kg`` is WasteObserved's ``weight``. Categories are Ningbo's four statutory ones
(《宁波市生活垃圾分类管理条例》, 2019).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.common import Body, Fen, Identifier, Percent, Temperature, WireHeader

__all__ = [
    "BinLevel",
    "CompactorState",
    "RecyclingDropoff",
    "RecyclingDropoffMessage",
    "RecyclingTelemetry",
    "RecyclingTelemetryMessage",
    "WasteCategory",
]

WasteCategory = Literal["recyclable", "hazardous", "kitchen", "other"]
CompactorState = Literal["idle", "running", "fault"]
# Sub-types are many (paper, plastic, metal, textile, battery...) and vendor-specific: a slug.
Subtype = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# Pseudonymous resident reference (a hash or token), never a name or phone number.
ResidentRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:=+/-]{1,64}$")]

# One drop-off is a bag or an armful: 0.01-10 kg is typical; 200 kg is a loading error.
MAX_DROPOFF_KG = 200.0
MAX_BINS = 16


class _DropoffFields(Body):
    txn_id: Identifier
    category: WasteCategory
    subtype: Subtype | None = None
    weight_kg: float = Field(ge=0, le=MAX_DROPOFF_KG, description="Weighed mass, kg.")
    resident_ref: ResidentRef = Field(description="Pseudonymous resident reference.")
    points_awarded: int = Field(ge=0, le=1_000_000, description="Reward points (积分) credited.")
    payout_fen: Fen | None = Field(None, description="Cash credit paid to the resident, fen.")


class RecyclingDropoff(_DropoffFields):
    """One resident's drop-off, weighed at the station."""

    kind: Literal["recycling_dropoff"] = "recycling_dropoff"


class RecyclingDropoffMessage(_DropoffFields, WireHeader):
    """Wire form of :class:`RecyclingDropoff` (topic ``city/recycling/{vendor}/{id}/event``)."""


class BinLevel(Body):
    """Fill level of one compartment (a FIWARE WasteContainer inside the station's isle)."""

    category: WasteCategory
    filling_level_pct: Percent = Field(description="FIWARE fillingLevel, as % of capacity.")
    bin_id: Identifier | None = None


class _TelemetryFields(Body):
    bins: list[BinLevel] = Field(min_length=1, max_length=MAX_BINS)
    temperature_c: Temperature
    smoke_alarm: bool
    compactor: CompactorState | None = Field(None, description="Absent if the station has none.")


class RecyclingTelemetry(_TelemetryFields):
    """Periodic station state."""

    kind: Literal["recycling_telemetry"] = "recycling_telemetry"


class RecyclingTelemetryMessage(_TelemetryFields, WireHeader):
    """Wire form of :class:`RecyclingTelemetry` (topic ``.../telemetry``)."""
