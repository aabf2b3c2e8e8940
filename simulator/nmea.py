"""NMEA 0183 encoding of a fix: one GGA and one RMC sentence, as a BeiDou/GNSS module prints them.

Talkers GP (GPS), GN (multi-GNSS), BD (BeiDou, legacy ID) and GB (BeiDou, NMEA 4.10, which adds
the navigational-status field to RMC). Checksum: XOR of the bytes between ``$`` and ``*``
(DOMAIN.md §3). Coordinates carry five decimals of minutes (~2 cm); the encoder also returns the
coordinates a parser reads back, so the truth file locates exactly the fix the collectors see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from operator import xor
from typing import Literal

__all__ = ["KNOTS_TO_KMH", "TALKERS", "NmeaFix", "Talker", "checksum", "encode_fix", "sentence"]

Talker = Literal["GP", "GN", "BD", "GB"]
TALKERS: tuple[Talker, ...] = ("GN", "BD", "GB", "GP")
KNOTS_TO_KMH = 1.852
_MINUTE_DIGITS = 5
_MINUTE_SCALE = 10**_MINUTE_DIGITS
# The parser's rounding of decoded degrees (schemas.nmea): ~1 cm.
_DECODED_DIGITS = 7
# Geoid separation around Ningbo (EGM96), about +10 m [assumption: constant over the city].
GEOID_SEPARATION_M = 10.0


@dataclass(frozen=True, slots=True)
class NmeaFix:
    """The sentences (CRLF-terminated) and the coordinates they decode to."""

    text: str
    lat: float
    lon: float


def checksum(body: str) -> str:
    """XOR of the characters of ``body`` (between ``$`` and ``*``), two uppercase hex digits."""
    return f"{reduce(xor, body.encode('ascii'), 0):02X}"


def sentence(body: str) -> str:
    """``$body*hh``."""
    return f"${body}*{checksum(body)}"


def _coordinate(value: float, degree_width: int) -> tuple[str, float]:
    """ddmm.mmmmm (or dddmm.mmmmm) of a non-negative angle, and the value it decodes to."""
    units = round(value * 60 * _MINUTE_SCALE)  # integer arithmetic: minutes never print as 60
    degrees, rest = divmod(units, 60 * _MINUTE_SCALE)
    minutes = f"{rest // _MINUTE_SCALE:02d}.{rest % _MINUTE_SCALE:0{_MINUTE_DIGITS}d}"
    decoded = round(degrees + float(minutes) / 60, _DECODED_DIGITS)
    return f"{degrees:0{degree_width}d}{minutes}", decoded


def encode_fix(
    *,
    ts: datetime,
    lat: float,
    lon: float,
    talker: Talker,
    speed_kmh: float | None,
    heading_deg: float | None,
    altitude_m: float | None,
    satellites: int | None,
    hdop: float | None,
) -> NmeaFix:
    """GGA + RMC for a fix in the north-eastern hemisphere (all of China), time to 1/100 s.

    Raises:
        ValueError: ``ts`` is naive, or the position is south or west (not a Ningbo fix).
    """
    if ts.tzinfo is None:
        raise ValueError("ts must be timezone-aware")
    if lat < 0 or lon < 0:
        raise ValueError("only N/E positions are encoded")
    utc = ts.astimezone(UTC)
    hhmmss = f"{utc:%H%M%S}.{utc.microsecond // 10_000:02d}"
    lat_s, lat_d = _coordinate(lat, 2)
    lon_s, lon_d = _coordinate(lon, 3)
    sats = "" if satellites is None else f"{satellites:02d}"
    dop = "" if hdop is None else f"{hdop:.1f}"
    alt = "" if altitude_m is None else f"{altitude_m:.1f}"
    gga = (
        f"{talker}GGA,{hhmmss},{lat_s},N,{lon_s},E,1,{sats},{dop},{alt},M,"
        f"{GEOID_SEPARATION_M:.1f},M,,"
    )
    knots = "" if speed_kmh is None else f"{speed_kmh / KNOTS_TO_KMH:.2f}"
    course = "" if heading_deg is None else f"{heading_deg:.1f}"
    rmc = f"{talker}RMC,{hhmmss},A,{lat_s},N,{lon_s},E,{knots},{course},{utc:%d%m%y},,,A"
    if talker == "GB":
        rmc += ",V"  # NMEA 4.10 navigational status: V = not valid for navigation advisories
    return NmeaFix(text=f"{sentence(gga)}\r\n{sentence(rmc)}\r\n", lat=lat_d, lon=lon_d)
