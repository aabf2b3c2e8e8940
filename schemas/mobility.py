"""BeiDou-positioned assets: shared bikes and e-bikes, buses, unmanned delivery vehicles.

Aligned with FIWARE Vehicle and GBFS: speed in km/h, heading in degrees clockwise from true
north in [0, 360), battery in %. Positions are WGS-84 (CGCS2000 differs by centimetres), never
GCJ-02: conversion for AMap tiles happens at display time.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.common import Body, Percent, SignalDbm, WireHeader

__all__ = [
    "AssetType",
    "FixType",
    "MobilityPosition",
    "MobilityPositionMessage",
    "MobilityTelemetry",
    "MobilityTelemetryMessage",
    "VehicleState",
]

AssetType = Literal["bike", "ebike", "bus", "delivery_vehicle"]
# GGA fix quality 0-8, by name. "none" on JSON means lat/lon are the last known position.
FixType = Literal[
    "none", "gps", "dgps", "pps", "rtk_fixed", "rtk_float", "dead_reckoning", "manual", "simulation"
]
VehicleState = Literal[
    "parked", "locked", "in_use", "in_service", "out_of_service", "charging", "maintenance"
]

Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS-84 latitude, degrees.")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS-84 longitude, degrees.")]
# A GNSS glitch can report anything; no city asset outruns 250 km/h.
MAX_SPEED_KMH = 250.0


class _PositionFields(Body):
    lat: Latitude
    lon: Longitude
    speed_kmh: float | None = Field(None, ge=0, le=MAX_SPEED_KMH, description="Speed, km/h.")
    heading_deg: float | None = Field(
        None, ge=0, lt=360, description="Course over ground, degrees from true north."
    )
    altitude_m: float | None = Field(None, ge=-500, le=9000, description="Above mean sea level.")
    satellites: int | None = Field(None, ge=0, le=99, description="Satellites used in the fix.")
    hdop: float | None = Field(None, ge=0, le=99.99)
    fix: FixType = "gps"
    battery_pct: Percent | None = None
    state: VehicleState | None = None
    asset_type: AssetType | None = None


class MobilityPosition(_PositionFields):
    """A GNSS fix of a moving asset (from JSON or from NMEA GGA/RMC)."""

    kind: Literal["mobility_position"] = "mobility_position"


class MobilityPositionMessage(_PositionFields, WireHeader):
    """Wire form of :class:`MobilityPosition` (topic ``city/mobility/{vendor}/{id}/position``)."""


class _TelemetryFields(Body):
    battery_pct: Percent | None = None
    state: VehicleState | None = None
    odometer_km: float | None = Field(None, ge=0, le=10_000_000)
    signal_dbm: SignalDbm | None = None


class MobilityTelemetry(_TelemetryFields):
    """Periodic vehicle state without a position (battery, lock state, odometer)."""

    kind: Literal["mobility_telemetry"] = "mobility_telemetry"


class MobilityTelemetryMessage(_TelemetryFields, WireHeader):
    """Wire form of :class:`MobilityTelemetry` (topic ``.../telemetry``)."""
