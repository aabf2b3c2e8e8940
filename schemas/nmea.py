"""NMEA 0183 GGA/RMC sentences on the ``position`` channel, turned into a :class:`MobilityPosition`.

A small hand parser rather than pynmea2: the contract needs exactly two sentence types, strict
framing (``$`` first, ``*hh`` checksum required, nothing before or after) and a talker allow-list,
all of which would have to be re-checked around pynmea2's lenient regex anyway; doing it here is
about as long, twice as fast, and has no behaviour hidden in a dependency. The tests cross-check
coordinates against pynmea2.

Accepted: talkers GP (GPS), GN (multi-GNSS), BD and GB (BeiDou, legacy and NMEA 4.10 IDs) for GGA
and RMC. Other sentences in the same message (GSA, GSV, VTG, proprietary ``$P...``) are
checksum-verified and ignored, so a receiver's whole epoch can be forwarded as is. One message
carries one fix: every GGA/RMC in it must share the same UTC time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from operator import xor

from pydantic import ValidationError

from schemas.errors import Rejected, RejectReason
from schemas.mobility import FixType, MobilityPosition

__all__ = ["KNOTS_TO_KMH", "NmeaFix", "parse_nmea"]

KNOTS_TO_KMH = 1.852
TALKERS = frozenset({"GP", "GN", "BD", "GB"})
# NMEA caps a sentence at 82 characters; some receivers exceed it with NMEA 4.10 fields.
_MAX_SENTENCE = 128
_MAX_SENTENCES = 64
# ~1 cm: more digits than any GNSS fix carries, fewer than float noise.
_COORD_DIGITS = 7

_SENTENCE = re.compile(r"\$([\x20-\x7e]+)\*([0-9A-Fa-f]{2})")
_TIME = re.compile(r"(\d{2})(\d{2})(\d{2})(?:\.(\d{1,6}))?")
_DATE = re.compile(r"(\d{2})(\d{2})(\d{2})")
_COORD = re.compile(r"(\d+)(\d{2}(?:\.\d+)?)")

_GGA_FIX: dict[str, FixType] = {
    "1": "gps",
    "2": "dgps",
    "3": "pps",
    "4": "rtk_fixed",
    "5": "rtk_float",
    "6": "dead_reckoning",
    "7": "manual",
    "8": "simulation",
}
_RMC_MODE_FIX: dict[str, FixType] = {
    "A": "gps",
    "D": "dgps",
    "P": "pps",
    "R": "rtk_fixed",
    "F": "rtk_float",
    "E": "dead_reckoning",
    "M": "manual",
    "S": "simulation",
}


@dataclass(frozen=True, slots=True)
class NmeaFix:
    """A decoded fix: its UTC time (the message's identity) and its position."""

    ts: datetime
    position: MobilityPosition


def _bad(detail: str) -> Rejected:
    return Rejected(RejectReason.BAD_NMEA, detail)


def _fields(line: str) -> list[str]:
    if len(line) > _MAX_SENTENCE:
        raise _bad(f"sentence longer than {_MAX_SENTENCE} characters")
    match = _SENTENCE.fullmatch(line)
    if match is None:
        raise _bad(f"not an NMEA sentence ($...*hh): {line[:40]!r}")
    body, checksum = match.groups()
    computed = reduce(xor, body.encode("ascii"), 0)
    if computed != int(checksum, 16):
        raise _bad(f"checksum mismatch in {body[:6]!r}: got {checksum}, computed {computed:02X}")
    return body.split(",")


def _utc_time(value: str) -> time:
    match = _TIME.fullmatch(value)
    if match is None:
        raise _bad(f"bad UTC time {value!r}")
    hh, mm, ss, frac = match.groups()
    try:
        return time(int(hh), int(mm), int(ss), int((frac or "0").ljust(6, "0")), tzinfo=UTC)
    except ValueError as exc:
        raise _bad(f"bad UTC time {value!r}: {exc}") from None


def _degrees(value: str, hemisphere: str, *, positive: str, negative: str, limit: int) -> float:
    match = _COORD.fullmatch(value)
    if match is None or hemisphere not in (positive, negative):
        raise _bad(f"bad coordinate {value!r},{hemisphere!r}")
    degrees, minutes = int(match[1]), float(match[2])
    result = degrees + minutes / 60
    if minutes >= 60 or result > limit:
        raise _bad(f"coordinate out of range: {value!r}")
    return round(-result if hemisphere == negative else result, _COORD_DIGITS)


def _lat_lon(f: list[str]) -> tuple[float, float]:
    lat = _degrees(f[0], f[1], positive="N", negative="S", limit=90)
    lon = _degrees(f[2], f[3], positive="E", negative="W", limit=180)
    return lat, lon


def _number(value: str, what: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise _bad(f"bad {what} {value!r}") from None


@dataclass(slots=True)
class _Epoch:
    utc: time | None = None
    day: date | None = None
    lat_lon: tuple[float, float] | None = None
    fix: FixType | None = None
    satellites: int | None = None
    hdop: float | None = None
    altitude_m: float | None = None
    speed_kmh: float | None = None
    heading_deg: float | None = None

    def set_time(self, utc: time) -> None:
        if self.utc is not None and self.utc != utc:
            raise _bad("GGA/RMC sentences of different epochs: send one fix per message")
        self.utc = utc


def _gga(f: list[str], epoch: _Epoch) -> None:
    # f: time, lat, N/S, lon, E/W, quality, satellites, hdop, altitude, M, ...
    if len(f) < 9:
        raise _bad(f"GGA has {len(f)} fields, expected at least 9")
    fix = _GGA_FIX.get(f[5])
    if fix is None:
        raise _bad(f"GGA reports no fix (quality {f[5]!r})")
    epoch.set_time(_utc_time(f[0]))
    epoch.lat_lon = _lat_lon(f[1:5])
    epoch.fix = fix
    if f[6]:
        if not f[6].isdigit():
            raise _bad(f"bad satellite count {f[6]!r}")
        epoch.satellites = int(f[6])
    epoch.hdop = _number(f[7], "HDOP")
    epoch.altitude_m = _number(f[8], "altitude")


def _rmc(f: list[str], epoch: _Epoch) -> None:
    # f: time, status, lat, N/S, lon, E/W, speed kn, course, date, [magvar, E/W, mode, nav status]
    if len(f) < 9:
        raise _bad(f"RMC has {len(f)} fields, expected at least 9")
    mode = f[11] if len(f) > 11 else ""
    if f[1] != "A" or mode == "N":
        raise _bad("RMC reports no valid fix (status V or mode N)")
    epoch.set_time(_utc_time(f[0]))
    match = _DATE.fullmatch(f[8])
    if match is None:
        raise _bad(f"bad RMC date {f[8]!r}")
    dd, mm, yy = (int(x) for x in match.groups())
    try:
        # Two-digit year: GNSS receivers in service today report 20yy.
        epoch.day = date(2000 + yy, mm, dd)
    except ValueError:
        raise _bad(f"bad RMC date {f[8]!r}") from None
    if epoch.lat_lon is None:
        epoch.lat_lon = _lat_lon(f[2:6])
    knots = _number(f[6], "speed")
    epoch.speed_kmh = None if knots is None else round(knots * KNOTS_TO_KMH, 3)
    course = _number(f[7], "course")
    epoch.heading_deg = None if course is None else course % 360
    if epoch.fix is None:
        epoch.fix = _RMC_MODE_FIX.get(mode, "gps")


def _timestamp(epoch: _Epoch, received_at: datetime) -> datetime:
    assert epoch.utc is not None
    if epoch.day is not None:
        return datetime.combine(epoch.day, epoch.utc)
    # GGA carries no date: take the receive date, then the day that puts the fix closest to the
    # receive time, so fixes taken just before (or, with a slow clock, just after) midnight UTC
    # land on the right day.
    base = datetime.combine(received_at.astimezone(UTC).date(), epoch.utc)
    return min(
        (base + timedelta(days=d) for d in (-1, 0, 1)),
        key=lambda ts: abs(ts - received_at),
    )


def parse_nmea(text: str, *, received_at: datetime) -> NmeaFix:
    """Decode one fix from GGA and/or RMC sentences (CRLF or LF separated).

    Raises:
        Rejected: ``bad_nmea`` for framing, checksum, talker, no-fix or field errors;
            ``invalid_field`` when a decoded value is outside the position model's range.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise _bad("no sentences")
    if len(lines) > _MAX_SENTENCES:
        raise _bad(f"more than {_MAX_SENTENCES} sentences")
    epoch = _Epoch()
    for line in lines:
        fields = _fields(line)
        address = fields[0]
        kind = address[2:] if len(address) == 5 else ""
        if kind not in ("GGA", "RMC"):
            continue
        if address[:2] not in TALKERS:
            raise _bad(f"talker {address[:2]!r} not accepted; expected one of {sorted(TALKERS)}")
        (_gga if kind == "GGA" else _rmc)(fields[1:], epoch)
    if epoch.utc is None or epoch.lat_lon is None or epoch.fix is None:
        raise _bad("no GGA or RMC sentence")
    lat, lon = epoch.lat_lon
    try:
        position = MobilityPosition(
            lat=lat,
            lon=lon,
            speed_kmh=epoch.speed_kmh,
            heading_deg=epoch.heading_deg,
            altitude_m=epoch.altitude_m,
            satellites=epoch.satellites,
            hdop=epoch.hdop,
            fix=epoch.fix,
        )
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise Rejected(
            RejectReason.INVALID_FIELD,
            f"{error['msg']} (decoded from NMEA)",
            field=".".join(str(p) for p in error["loc"]),
        ) from None
    return NmeaFix(ts=_timestamp(epoch, received_at), position=position)
