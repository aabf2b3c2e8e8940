"""JT/T 808 message bodies the gateway reads and writes (pure: bytes in, values out).

Terminal → platform: registration 0x0100, authentication 0x0102, heartbeat 0x0002 (empty),
logout 0x0003 (empty), location report 0x0200. Platform → terminal: the general response 0x8001
and the registration response 0x8100. The terminal's side of each is built here too: the tests'
terminal emulator and ``bench/jt808.py`` speak through the same code they check.

Text is GBK (plates: 浙B12345); fixed-size text fields are padded with 0x00 (some terminals pad
with spaces), both stripped here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import IntEnum, IntFlag

from gateways.jt808.codec import Edition, bcd_digits, to_bcd
from gateways.jt808.errors import FrameError, FrameReason

__all__ = [
    "GMT8",
    "Alarm",
    "Authentication",
    "LocationReport",
    "MsgId",
    "RegisterResult",
    "Registration",
    "Result",
    "Status",
    "authentication_body",
    "general_response_body",
    "location_body",
    "parse_authentication",
    "parse_general_response",
    "parse_location",
    "parse_register_response",
    "parse_registration",
    "register_response_body",
    "registration_body",
]

#: Times in JT/T 808 are Beijing time.
GMT8 = timezone(timedelta(hours=8))


class MsgId(IntEnum):
    TERMINAL_RESPONSE = 0x0001
    HEARTBEAT = 0x0002
    LOGOUT = 0x0003
    REGISTER = 0x0100
    AUTHENTICATE = 0x0102
    LOCATION = 0x0200
    PLATFORM_RESPONSE = 0x8001
    REGISTER_RESPONSE = 0x8100


class Result(IntEnum):
    """Result of a general response (0x8001)."""

    SUCCESS = 0
    FAILURE = 1
    MESSAGE_ERROR = 2
    NOT_SUPPORTED = 3
    ALARM_ACK = 4


class RegisterResult(IntEnum):
    """Result of a registration response (0x8100)."""

    SUCCESS = 0
    VEHICLE_REGISTERED = 1
    NO_VEHICLE = 2
    TERMINAL_REGISTERED = 3
    NO_TERMINAL = 4


class Status(IntFlag):
    """Status bits of a location report (the load state, bits 8-9, is two bits: ``load``)."""

    ACC_ON = 1 << 0
    POSITIONED = 1 << 1
    SOUTH = 1 << 2
    WEST = 1 << 3
    OUT_OF_SERVICE = 1 << 4
    ENCRYPTED = 1 << 5
    LOAD_LOW = 1 << 8
    LOAD_HIGH = 1 << 9
    FUEL_CUT = 1 << 10
    CIRCUIT_CUT = 1 << 11
    DOOR_LOCKED = 1 << 12
    FRONT_DOOR_OPEN = 1 << 13
    MIDDLE_DOOR_OPEN = 1 << 14
    BACK_DOOR_OPEN = 1 << 15
    DRIVER_DOOR_OPEN = 1 << 16
    GPS = 1 << 18
    BEIDOU = 1 << 19
    GLONASS = 1 << 20
    GALILEO = 1 << 21


class Alarm(IntFlag):
    """Alarm bits of a location report. Bits 15-17 are reserved, and vendors reuse them: the
    raw integer is kept beside these names."""

    SOS = 1 << 0
    OVERSPEED = 1 << 1
    FATIGUE = 1 << 2
    DANGER = 1 << 3
    GNSS_FAULT = 1 << 4
    GNSS_ANTENNA_OPEN = 1 << 5
    GNSS_ANTENNA_SHORT = 1 << 6
    POWER_LOW = 1 << 7
    POWER_LOST = 1 << 8
    LCD_FAULT = 1 << 9
    TTS_FAULT = 1 << 10
    CAMERA_FAULT = 1 << 11
    IC_CARD_FAULT = 1 << 12
    OVERSPEED_WARNING = 1 << 13
    FATIGUE_WARNING = 1 << 14
    DRIVING_TIME_EXCEEDED = 1 << 18
    OVERTIME_PARKING = 1 << 19
    AREA = 1 << 20
    ROUTE = 1 << 21
    ROAD_SECTION_TIME = 1 << 22
    ROUTE_DEVIATION = 1 << 23
    VSS_FAULT = 1 << 24
    FUEL_ABNORMAL = 1 << 25
    STOLEN = 1 << 26
    ILLEGAL_IGNITION = 1 << 27
    ILLEGAL_DISPLACEMENT = 1 << 28
    COLLISION = 1 << 29
    ROLLOVER = 1 << 30
    ILLEGAL_DOOR_OPEN = 1 << 31


# Extra items of a location report (id BYTE, length BYTE, value).
EXTRA_MILEAGE = 0x01  # DWORD, 0.1 km
EXTRA_SIGNAL = 0x30  # BYTE, network signal strength
EXTRA_SATELLITES = 0x31  # BYTE, GNSS satellites used

_NAMED_ALARMS = sum(Alarm)
_NAMED_STATUS = sum(Status)

_LOCATION = struct.Struct(">IIIIHHH6s")
_REGISTRATION_2013 = struct.Struct(">HH5s20s7sB")
_REGISTRATION_2019 = struct.Struct(">HH11s30s30sB")
_GENERAL_RESPONSE = struct.Struct(">HHB")
_REGISTER_RESPONSE = struct.Struct(">HB")


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\x00 ").decode("gbk", errors="replace")


def _pad(text: str, size: int) -> bytes:
    raw = text.encode("gbk")
    if len(raw) > size:
        raise ValueError(f"{text!r} is longer than {size} bytes")
    return raw.ljust(size, b"\x00")


@dataclass(frozen=True, slots=True)
class Registration:
    """Terminal registration (0x0100)."""

    province: int
    city: int
    manufacturer: str
    model: str
    terminal_id: str
    plate_color: int
    plate: str


def parse_registration(body: bytes, edition: Edition) -> Registration:
    """Raises: FrameError BAD_BODY, the body is shorter than its fixed fields."""
    layout = _REGISTRATION_2019 if edition is Edition.V2019 else _REGISTRATION_2013
    if len(body) < layout.size:
        raise FrameError(
            FrameReason.BAD_BODY,
            f"registration of {len(body)} bytes, {edition} needs {layout.size}",
        )
    province, city, maker, model, terminal_id, color = layout.unpack_from(body)
    return Registration(
        province=province,
        city=city,
        manufacturer=_text(maker),
        model=_text(model),
        terminal_id=_text(terminal_id),
        plate_color=color,
        plate=_text(body[layout.size :]),
    )


def registration_body(registration: Registration, edition: Edition) -> bytes:
    """The terminal's side of :func:`parse_registration`."""
    r = registration
    sizes = (11, 30, 30) if edition is Edition.V2019 else (5, 20, 7)
    layout = _REGISTRATION_2019 if edition is Edition.V2019 else _REGISTRATION_2013
    return layout.pack(
        r.province,
        r.city,
        _pad(r.manufacturer, sizes[0]),
        _pad(r.model, sizes[1]),
        _pad(r.terminal_id, sizes[2]),
        r.plate_color,
    ) + r.plate.encode("gbk")


@dataclass(frozen=True, slots=True)
class Authentication:
    """Terminal authentication (0x0102); 2019 adds the IMEI and the software version."""

    code: str
    imei: str | None = None
    software_version: str | None = None


_IMEI_BYTES = 15
_SOFTWARE_BYTES = 20


def parse_authentication(body: bytes, edition: Edition) -> Authentication:
    """Raises: FrameError BAD_BODY, a 2019 body shorter than its declared code and fields."""
    if edition is Edition.V2013:
        return Authentication(code=_text(body))
    if not body or len(body) < 1 + body[0] + _IMEI_BYTES + _SOFTWARE_BYTES:
        raise FrameError(FrameReason.BAD_BODY, f"2019 authentication of {len(body)} bytes")
    size = body[0]
    imei = body[1 + size : 1 + size + _IMEI_BYTES]
    software = body[1 + size + _IMEI_BYTES : 1 + size + _IMEI_BYTES + _SOFTWARE_BYTES]
    return Authentication(
        code=_text(body[1 : 1 + size]), imei=_text(imei), software_version=_text(software)
    )


def authentication_body(auth: Authentication, edition: Edition) -> bytes:
    """The terminal's side of :func:`parse_authentication`."""
    code = auth.code.encode("gbk")
    if edition is Edition.V2013:
        return code
    return (
        bytes([len(code)])
        + code
        + _pad(auth.imei or "", _IMEI_BYTES)
        + _pad(auth.software_version or "", _SOFTWARE_BYTES)
    )


@dataclass(frozen=True, slots=True)
class LocationReport:
    """Location report (0x0200): the 28-byte basic block and its extra items.

    Latitude and longitude are unsigned millionths of a degree; the hemisphere is in the status
    bits (:attr:`lat`, :attr:`lon` apply it).
    """

    alarm: int
    status: int
    lat_e6: int
    lon_e6: int
    altitude_m: int
    speed_dkmh: int
    direction: int
    time: datetime
    extras: dict[int, bytes] = field(default_factory=dict)

    @property
    def lat(self) -> float:
        return -self.lat_e6 / 1e6 if self.status & Status.SOUTH else self.lat_e6 / 1e6

    @property
    def lon(self) -> float:
        return -self.lon_e6 / 1e6 if self.status & Status.WEST else self.lon_e6 / 1e6

    @property
    def speed_kmh(self) -> float:
        return self.speed_dkmh / 10

    @property
    def alarms(self) -> Alarm:
        """The named alarm bits set (reserved bits dropped)."""
        return Alarm(self.alarm & _NAMED_ALARMS)

    @property
    def flags(self) -> Status:
        """The named status bits set."""
        return Status(self.status & _NAMED_STATUS)

    @property
    def load(self) -> int:
        """Bits 8-9: 0 empty, 1 half, 3 full (2 is reserved)."""
        return self.status >> 8 & 0b11

    def _int_extra(self, item: int) -> int | None:
        raw = self.extras.get(item)
        return int.from_bytes(raw, "big") if raw else None

    @property
    def mileage_km(self) -> float | None:
        value = self._int_extra(EXTRA_MILEAGE)
        return None if value is None else value / 10

    @property
    def satellites(self) -> int | None:
        return self._int_extra(EXTRA_SATELLITES)

    @property
    def signal(self) -> int | None:
        return self._int_extra(EXTRA_SIGNAL)


def _bcd_time(raw: bytes) -> datetime:
    digits = bcd_digits(raw, "time")
    try:
        return datetime(
            2000 + int(digits[0:2]),
            int(digits[2:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            tzinfo=GMT8,
        )
    except ValueError:
        raise FrameError(FrameReason.BAD_BCD, f"time: no such date: {digits}") from None


def _extras(data: bytes) -> dict[int, bytes]:
    # A truncated last item (a length past the end) ends the list: the basic block is what the
    # platform needs, and vendors' extras are where firmware goes wrong.
    items: dict[int, bytes] = {}
    offset = 0
    while offset + 2 <= len(data):
        item, size = data[offset], data[offset + 1]
        if offset + 2 + size > len(data):
            break
        items[item] = data[offset + 2 : offset + 2 + size]
        offset += 2 + size
    return items


def parse_location(body: bytes) -> LocationReport:
    """Raises: FrameError BAD_BODY (under 28 bytes) or BAD_BCD (the time)."""
    if len(body) < _LOCATION.size:
        raise FrameError(FrameReason.BAD_BODY, f"location of {len(body)} bytes, needs 28")
    alarm, status, lat, lon, altitude, speed, direction, time = _LOCATION.unpack_from(body)
    return LocationReport(
        alarm=alarm,
        status=status,
        lat_e6=lat,
        lon_e6=lon,
        altitude_m=altitude,
        speed_dkmh=speed,
        direction=direction,
        time=_bcd_time(time),
        extras=_extras(body[_LOCATION.size :]),
    )


def location_body(report: LocationReport) -> bytes:
    """The terminal's side of :func:`parse_location`."""
    r = report
    time = r.time.astimezone(GMT8).strftime("%y%m%d%H%M%S")
    extras = b"".join(bytes([item, len(value)]) + value for item, value in r.extras.items())
    return (
        _LOCATION.pack(
            r.alarm,
            r.status,
            r.lat_e6,
            r.lon_e6,
            r.altitude_m,
            r.speed_dkmh,
            r.direction,
            to_bcd(time, 6),
        )
        + extras
    )


def general_response_body(serial: int, msg_id: int, result: Result) -> bytes:
    """0x8001: the serial and id of the terminal's message it answers, and the result."""
    return _GENERAL_RESPONSE.pack(serial, msg_id, result)


def parse_general_response(body: bytes) -> tuple[int, int, Result]:
    """(serial, msg id, result) of a 0x8001 body (the terminal's side)."""
    if len(body) != _GENERAL_RESPONSE.size:
        raise FrameError(FrameReason.BAD_BODY, f"general response of {len(body)} bytes")
    serial, msg_id, result = _GENERAL_RESPONSE.unpack(body)
    return serial, msg_id, Result(result)


def register_response_body(serial: int, result: RegisterResult, auth_code: str = "") -> bytes:
    """0x8100: the registration's serial, the result, and the auth code on success only."""
    code = auth_code.encode("gbk") if result is RegisterResult.SUCCESS else b""
    return _REGISTER_RESPONSE.pack(serial, result) + code


def parse_register_response(body: bytes) -> tuple[int, RegisterResult, str]:
    """(serial, result, auth code) of a 0x8100 body (the terminal's side)."""
    if len(body) < _REGISTER_RESPONSE.size:
        raise FrameError(FrameReason.BAD_BODY, f"registration response of {len(body)} bytes")
    serial, result = _REGISTER_RESPONSE.unpack_from(body)
    return serial, RegisterResult(result), _text(body[_REGISTER_RESPONSE.size :])
