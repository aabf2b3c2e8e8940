"""JT/T 808 bodies: location report with alarm and status bits, registration, authentication."""

from __future__ import annotations

from datetime import datetime

import pytest
from test_jt808_codec import HUABAO_AUTHENTICATION, HUABAO_LOCATION

from gateways.jt808.codec import Edition, decode_frame
from gateways.jt808.errors import FrameError, FrameReason
from gateways.jt808.messages import (
    GMT8,
    Alarm,
    Authentication,
    LocationReport,
    RegisterResult,
    Registration,
    Result,
    Status,
    authentication_body,
    general_response_body,
    location_body,
    parse_authentication,
    parse_general_response,
    parse_location,
    parse_register_response,
    parse_registration,
    register_response_body,
    registration_body,
)

# DOMAIN.md's vector: the 28-byte basic block, then the extra items it names (mileage 0x14BF,
# signal 28, 23 satellites); the vector's other items are elided there.
DOMAIN_BASIC = bytes.fromhex("00000000000C000302315C4406F57BD40020000000C6230501000034")
DOMAIN_EXTRAS = bytes.fromhex("0104000014BF30011C310117")


def test_parse_location_decodes_the_domain_vector() -> None:
    """36.789316 N, 116.751316 E, 32 m, 0 km/h, 198°, 2023-05-01 00:00:34 GMT+8, fixed, GPS+BDS."""
    report = parse_location(DOMAIN_BASIC + DOMAIN_EXTRAS)
    assert report.alarm == 0
    assert report.alarms == Alarm(0)
    assert report.flags == Status.ACC_ON | Status.POSITIONED | Status.GPS | Status.BEIDOU
    assert (report.lat, report.lon) == (36.789316, 116.751316)
    assert (report.altitude_m, report.speed_kmh, report.direction) == (32, 0.0, 198)
    assert report.time == datetime(2023, 5, 1, 0, 0, 34, tzinfo=GMT8)
    # 0x14BF is 5311 tenths of a km; the vector's note says 530.3, which would be 0x14B7.
    assert report.mileage_km == 531.1
    assert (report.signal, report.satellites) == (28, 23)


def test_parse_location_reads_a_published_frame_keeping_reserved_alarm_bits() -> None:
    """The vendor's report sets alarm bit 17 (reserved): no named alarm, the raw value kept."""
    report = parse_location(decode_frame(HUABAO_LOCATION[1:-1]).body)
    assert report.alarm == 1 << 17
    assert report.alarms == Alarm(0)
    assert report.flags == Status.POSITIONED | Status.GPS | Status.BEIDOU
    assert (report.lat, report.lon) == (22.591771, 113.995873)
    assert (report.altitude_m, report.direction) == (70, 89)
    assert report.time == datetime(2021, 9, 22, 16, 37, 58, tzinfo=GMT8)
    assert (report.mileage_km, report.signal, report.satellites) == (0.1, 17, 16)
    assert len(report.extras[0xD5]) == 0x1B


def test_location_alarm_and_status_bits_by_name() -> None:
    """SOS, over-speed and collision; south, west, out of service, full load; doors."""
    alarm = Alarm.SOS | Alarm.OVERSPEED | Alarm.COLLISION | (1 << 16)
    status = Status.SOUTH | Status.WEST | Status.OUT_OF_SERVICE | Status.LOAD_LOW | Status.LOAD_HIGH
    status |= Status.FRONT_DOOR_OPEN
    report = LocationReport(
        alarm=int(alarm),
        status=int(status),
        lat_e6=33_868_820,
        lon_e6=151_209_290,
        altitude_m=5,
        speed_dkmh=526,
        direction=359,
        time=datetime(2025, 5, 1, 12, 0, 0, tzinfo=GMT8),
    )
    parsed = parse_location(location_body(report))
    assert parsed == report
    assert parsed.alarms == Alarm.SOS | Alarm.OVERSPEED | Alarm.COLLISION
    assert Alarm.COLLISION in parsed.alarms
    assert Alarm.FATIGUE not in parsed.alarms
    assert (parsed.lat, parsed.lon) == (-33.86882, -151.20929)
    assert parsed.speed_kmh == 52.6
    assert parsed.load == 3
    assert Status.FRONT_DOOR_OPEN in parsed.flags


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (DOMAIN_BASIC[:27], FrameReason.BAD_BODY),
        (DOMAIN_BASIC[:22] + bytes.fromhex("23130100003A"), FrameReason.BAD_BCD),
        (DOMAIN_BASIC[:22] + bytes.fromhex("2305010000AA"), FrameReason.BAD_BCD),
    ],
    ids=["short", "month-13", "hex-in-time"],
)
def test_parse_location_refuses_a_bad_body(body: bytes, reason: FrameReason) -> None:
    """Under 28 bytes, or a time that is no date or not BCD."""
    with pytest.raises(FrameError) as info:
        parse_location(body)
    assert info.value.reason is reason


def test_parse_location_stops_at_a_truncated_extra_item() -> None:
    """An item whose length runs past the end is dropped, the ones before it kept."""
    report = parse_location(DOMAIN_BASIC + bytes.fromhex("3101170104000014"))
    assert report.satellites == 23
    assert report.mileage_km is None


@pytest.mark.parametrize("edition", list(Edition), ids=str)
def test_registration_round_trip(edition: Edition) -> None:
    """Fixed fields padded, the plate in GBK after them."""
    registration = Registration(
        province=33,
        city=200,
        manufacturer="70444",
        model="BD-T1",
        terminal_id="T000123",
        plate_color=2,
        plate="浙B12345",
    )
    body = registration_body(registration, edition)
    assert len(body) == (76 if edition is Edition.V2019 else 37) + len("浙B12345".encode("gbk"))
    assert parse_registration(body, edition) == registration


def test_parse_registration_refuses_a_short_body() -> None:
    """A 2013 registration has 37 bytes before the plate."""
    with pytest.raises(FrameError) as info:
        parse_registration(bytes(36), Edition.V2013)
    assert info.value.reason is FrameReason.BAD_BODY


def test_parse_authentication_of_both_editions() -> None:
    """2013: the whole body is the code (the published frame); 2019: length, code, IMEI, version."""
    published = decode_frame(HUABAO_AUTHENTICATION[1:-1])
    assert parse_authentication(published.body, Edition.V2013) == Authentication("8300200260432")
    auth = Authentication(code="0123abcd", imei="861234567890123", software_version="fw-1.2")
    body = authentication_body(auth, Edition.V2019)
    assert body[0] == 8
    assert len(body) == 1 + 8 + 15 + 20
    assert parse_authentication(body, Edition.V2019) == auth
    with pytest.raises(FrameError) as info:
        parse_authentication(body[:-1], Edition.V2019)
    assert info.value.reason is FrameReason.BAD_BODY


def test_platform_responses_round_trip() -> None:
    """0x8001 answers serial and id; 0x8100 carries the code only on success."""
    body = general_response_body(0x0804, 0x0200, Result.MESSAGE_ERROR)
    assert body == bytes.fromhex("0804020002")
    assert parse_general_response(body) == (0x0804, 0x0200, Result.MESSAGE_ERROR)
    ok = register_response_body(5, RegisterResult.SUCCESS, "c0de")
    assert parse_register_response(ok) == (5, RegisterResult.SUCCESS, "c0de")
    refused = register_response_body(5, RegisterResult.NO_TERMINAL, "c0de")
    assert refused == bytes.fromhex("000504")
