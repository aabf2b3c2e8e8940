"""NMEA 0183 GGA/RMC decoding, with the real sentences quoted in DOMAIN.md."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce
from operator import xor

import pynmea2
import pytest
from schemas_testkit import topic_for

from schemas import Rejected, RejectReason, decode, parse_nmea

# vyuke/gps_NEMA_mirror: a BDS+GPS module near Chengdu.
GNGGA = "$GNGGA,072353.000,3032.2149,N,10412.5192,E,1,09,1.3,509.4,M,0.0,M,,*74"
GNRMC = "$GNRMC,072353.000,A,3032.2149,N,10412.5192,E,7.74,50.28,290918,,,A*45"
BDGSA = "$BDGSA,A,3,06,13,08,,,,,,,,,,3.2,1.3,2.9*27"
BDGSV = "$BDGSV,2,1,07,02,,,17,03,,,32,06,82,357,30,08,55,136,37*6C"
GNVTG = "$GNVTG,50.28,T,,M,7.74,N,14.34,K,A*2A"
# A BeiDou-only fix (Shenzhen), public C++ test vector.
BDGGA = "$BDGGA,023656.00,2240.61563,N,11359.86512,E,1,23,0.7,96.53,M,-3.52,M,,*5B"
# No fix: mode N, nav status V (PX4 Teseo driver comment).
GNRMC_NO_FIX = "$GNRMC,,V,,,,,,,,,,N,V*37"
GBGSV_410 = "$GBGSV,1,1,04,13,31,064,,21,12,255,,26,18,293,27,29,46,155,31,1*78"

POSITION = topic_for("mobility", "position")
CHENGDU_RECEIVED = datetime(2018, 9, 29, 7, 23, 55, tzinfo=UTC)


def _sentence(body: str) -> str:
    """Frame a sentence body with its correct checksum."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}"


def _bad_nmea(text: str, received_at: datetime = CHENGDU_RECEIVED) -> Rejected:
    with pytest.raises(Rejected) as info:
        parse_nmea(text, received_at=received_at)
    return info.value


def test_nmea_gngga_gnrmc_epoch_combined() -> None:
    """GGA gives fix, satellites, HDOP and altitude; RMC gives date, speed and course."""
    fix = parse_nmea(f"{GNGGA}\r\n{GNRMC}\r\n", received_at=CHENGDU_RECEIVED)
    assert fix.ts == datetime(2018, 9, 29, 7, 23, 53, tzinfo=UTC)
    p = fix.position
    assert p.lat == pytest.approx(30 + 32.2149 / 60, abs=1e-7)
    assert p.lon == pytest.approx(104 + 12.5192 / 60, abs=1e-7)
    assert p.speed_kmh == pytest.approx(7.74 * 1.852, abs=1e-3)  # kept to 1 m/h
    assert p.speed_kmh == pytest.approx(14.34, abs=0.01)  # the module's own VTG km/h
    assert p.heading_deg == pytest.approx(50.28)
    assert (p.satellites, p.hdop, p.altitude_m, p.fix) == (9, 1.3, 509.4, "gps")


def test_nmea_coordinates_match_pynmea2() -> None:
    """Our ddmm.mmmm conversion agrees with pynmea2 on every real sentence."""
    for sentence in (GNGGA, GNRMC, BDGGA):
        ours = parse_nmea(sentence, received_at=CHENGDU_RECEIVED).position
        theirs = pynmea2.parse(sentence, check=True)
        assert ours.lat == pytest.approx(theirs.latitude, abs=1e-7)
        assert ours.lon == pytest.approx(theirs.longitude, abs=1e-7)


def test_nmea_beidou_only_gga_accepted() -> None:
    """A BD-talker GGA alone is a fix: 23 satellites, date from the receive time."""
    received = datetime(2024, 3, 2, 2, 37, 0, tzinfo=UTC)
    fix = parse_nmea(BDGGA, received_at=received)
    assert fix.ts == datetime(2024, 3, 2, 2, 36, 56, tzinfo=UTC)
    assert fix.position.satellites == 23
    assert fix.position.lat == pytest.approx(22.676927, abs=1e-6)
    assert fix.position.lon == pytest.approx(113.997752, abs=1e-6)
    assert fix.position.speed_kmh is None


def test_nmea_gga_just_before_midnight_takes_previous_day() -> None:
    """A GGA at 23:59:58 received at 00:00:03 belongs to the previous UTC day."""
    gga = _sentence("GNGGA,235958.00,2940.00000,N,12130.00000,E,1,12,0.9,10.0,M,0.0,M,,")
    fix = parse_nmea(gga, received_at=datetime(2025, 5, 2, 0, 0, 3, tzinfo=UTC))
    assert fix.ts == datetime(2025, 5, 1, 23, 59, 58, tzinfo=UTC)


def test_nmea_gga_just_after_midnight_with_slow_receiver_clock_takes_next_day() -> None:
    """A GGA at 00:00:01 received at 23:59:59 (collector clock 2 s slow) is the next day."""
    gga = _sentence("GNGGA,000001.00,2940.00000,N,12130.00000,E,1,12,0.9,10.0,M,0.0,M,,")
    fix = parse_nmea(gga, received_at=datetime(2025, 5, 1, 23, 59, 59, tzinfo=UTC))
    assert fix.ts == datetime(2025, 5, 2, 0, 0, 1, tzinfo=UTC)


def test_nmea_other_sentences_of_the_epoch_ignored() -> None:
    """GSA, GSV (incl. NMEA 4.10 GBGSV) and VTG may accompany the fix; LF endings work."""
    text = "\n".join((BDGSA, GNGGA, BDGSV, GBGSV_410, GNRMC, GNVTG)) + "\n"
    fix = parse_nmea(text, received_at=CHENGDU_RECEIVED)
    assert fix.position.satellites == 9


def test_nmea_gb_talker_and_nmea410_rmc_accepted() -> None:
    """GB (NMEA 4.10 BeiDou) RMC with mode and nav-status fields; southern/western hemisphere."""
    rmc = _sentence("GBRMC,101010.00,A,3351.0000,S,07037.5000,W,0.0,,010525,,,D,V")
    fix = parse_nmea(rmc, received_at=datetime(2025, 5, 1, 10, 10, 12, tzinfo=UTC))
    assert fix.position.lat == pytest.approx(-33.85)
    assert fix.position.lon == pytest.approx(-70.625)
    assert fix.position.fix == "dgps"
    assert fix.position.heading_deg is None


def test_nmea_gps_talker_accepted() -> None:
    """GP is a valid talker too."""
    gga = _sentence("GPGGA,120000.00,2952.0000,N,12133.0000,E,4,15,0.6,5.0,M,0.0,M,1.0,0001")
    fix = parse_nmea(gga, received_at=datetime(2025, 5, 1, 12, 0, 1, tzinfo=UTC))
    assert fix.position.fix == "rtk_fixed"


@pytest.mark.parametrize(
    "text",
    [
        GNRMC_NO_FIX,
        _sentence("GNGGA,072353.000,3032.2149,N,10412.5192,E,0,00,99.9,,M,,M,,"),
        _sentence("GNGGA,072353.000,,,,,0,00,,,M,,M,,"),
        _sentence("GNRMC,072353.000,V,3032.2149,N,10412.5192,E,0.0,,290918,,,N"),
    ],
    ids=["rmc-V-mode-N", "gga-quality-0", "gga-empty", "rmc-status-V"],
)
def test_nmea_no_fix_is_bad_nmea(text: str) -> None:
    """No fix (GGA quality 0, RMC status V) is bad_nmea."""
    exc = _bad_nmea(text)
    assert exc.reason is RejectReason.BAD_NMEA
    assert "fix" in exc.detail


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (GNGGA[:-2] + "75", "checksum"),
        (GNGGA[:-3], "not an NMEA sentence"),
        ("junk" + GNGGA, "not an NMEA sentence"),
        (_sentence("GLGGA,072353.000,3032.2149,N,10412.5192,E,1,09,1.3,509.4,M,0.0,M,,"), "talker"),
        (_sentence("GAGGA,072353.000,3032.2149,N,10412.5192,E,1,09,1.3,509.4,M,0.0,M,,"), "talker"),
        (BDGSA, "no GGA or RMC"),
        ("", "no sentences"),
        (_sentence("GNGGA,072353.000,3072.2149,N,10412.5192,E,1,09,1.3,509.4,M,0.0,M,,"), "range"),
        (_sentence("GNGGA,072353.000,9132.2149,N,10412.5192,E,1,09,1.3,509.4,M,0.0,M,,"), "range"),
        (_sentence("GNGGA,072353.000,3032.2149,X,10412.5192,E,1,09,1.3,509.4,M,0.0,M,,"), "coord"),
        (_sentence("GNGGA,256000.000,3032.2149,N,10412.5192,E,1,09,1.3,509.4,M,0.0,M,,"), "time"),
        (_sentence("GNRMC,072353.000,A,3032.2149,N,10412.5192,E,7.74,50.28,310218,,,A"), "date"),
        (_sentence("GNGGA,072353.000,3032.2149,N"), "fields"),
        (
            f"{GNGGA}\n{_sentence('GNRMC,072354.000,A,3032.2149,N,10412.5192,E,1,1,290918,,,A')}",
            "epoch",
        ),
        (_sentence("GNGGA,072353.000,3032.2149,N,10412.5192,E,1,x9,1.3,509.4,M,0.0,M,,"), "satell"),
    ],
    ids=[
        "checksum",
        "no-checksum",
        "leading-garbage",
        "glonass-talker",
        "galileo-talker",
        "no-gga-rmc",
        "empty",
        "minutes-60-plus",
        "latitude-over-90",
        "bad-hemisphere",
        "bad-time",
        "feb-31",
        "too-few-fields",
        "two-epochs",
        "bad-satellites",
    ],
)
def test_nmea_malformed_is_bad_nmea(text: str, words: str) -> None:
    """Framing, checksum, talker, field and epoch errors are bad_nmea with a telling message."""
    exc = _bad_nmea(text)
    assert exc.reason is RejectReason.BAD_NMEA
    assert words in exc.detail


def test_nmea_implausible_speed_is_invalid_field() -> None:
    """Well-formed NMEA with a speed no city asset reaches names the derived field."""
    rmc = _sentence("GNRMC,072353.000,A,3032.2149,N,10412.5192,E,500.0,50.28,290918,,,A")
    exc = _bad_nmea(rmc)
    assert (exc.reason, exc.field) == (RejectReason.INVALID_FIELD, "speed_kmh")


def test_decode_nmea_on_position_channel_has_no_seq() -> None:
    """decode() routes `$...` on the position channel to NMEA: seq None, ts is the identity."""
    env = decode(POSITION, f"{GNGGA}\r\n{GNRMC}\r\n".encode(), received_at=CHENGDU_RECEIVED)
    assert env.source_format == "nmea"
    assert env.seq is None
    assert env.dedup_id == (env.device_id, 1538205833000)


def test_decode_nmea_no_fix_is_bad_nmea() -> None:
    """The no-fix RMC from DOMAIN.md is rejected through decode() too."""
    with pytest.raises(Rejected) as info:
        decode(POSITION, GNRMC_NO_FIX.encode(), received_at=CHENGDU_RECEIVED)
    assert info.value.reason is RejectReason.BAD_NMEA


def test_decode_nmea_old_fix_is_stale_timestamp() -> None:
    """An RMC dated 2018 received in 2025 is stale_timestamp."""
    with pytest.raises(Rejected) as info:
        decode(POSITION, GNRMC.encode(), received_at=datetime(2025, 5, 1, tzinfo=UTC))
    assert info.value.reason is RejectReason.STALE_TIMESTAMP


def test_decode_nmea_text_elsewhere_is_bad_json() -> None:
    """NMEA is only understood on the position channel."""
    with pytest.raises(Rejected) as info:
        decode(topic_for("mobility", "telemetry"), GNGGA.encode(), received_at=CHENGDU_RECEIVED)
    assert info.value.reason is RejectReason.BAD_JSON
