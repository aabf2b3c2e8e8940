"""NMEA encoding: checksums, talkers, and what the contract's parser and pynmea2 read back."""

from __future__ import annotations

from datetime import UTC, datetime

import pynmea2
import pytest

from schemas import parse_nmea
from simulator.nmea import TALKERS, encode_fix

WHEN = datetime(2026, 5, 1, 4, 30, 12, 340000, tzinfo=UTC)


@pytest.mark.parametrize("talker", TALKERS, ids=str)
def test_encode_fix_parses_back(talker: str) -> None:
    """Each talker's GGA+RMC decodes to the fix: position, time, speed, heading, satellites."""
    fix = encode_fix(
        ts=WHEN, lat=29.8731234, lon=121.5498765, talker=talker,  # type: ignore[arg-type]
        speed_kmh=18.5, heading_deg=359.97, altitude_m=6.2, satellites=23, hdop=0.8,
    )  # fmt: skip
    parsed = parse_nmea(fix.text, received_at=WHEN)
    assert parsed.ts == datetime(2026, 5, 1, 4, 30, 12, 340000, tzinfo=UTC)
    assert (parsed.position.lat, parsed.position.lon) == (fix.lat, fix.lon)
    assert abs(fix.lat - 29.8731234) < 1e-6
    assert abs(fix.lon - 121.5498765) < 1e-6
    assert parsed.position.speed_kmh is not None
    assert abs(parsed.position.speed_kmh - 18.5) < 0.02
    assert parsed.position.satellites == 23
    for line in fix.text.splitlines():
        sentence = pynmea2.parse(line, check=True)  # raises on a bad checksum
        assert sentence.talker == talker


def test_encode_fix_minutes_never_print_sixty() -> None:
    """A latitude a hair below a whole degree rounds up to the degree, not to 60 minutes."""
    fix = encode_fix(
        ts=WHEN, lat=29.99999999, lon=121.0, talker="GN", speed_kmh=None, heading_deg=None,
        altitude_m=None, satellites=None, hdop=None,
    )  # fmt: skip
    assert ",3000.00000,N," in fix.text
    assert parse_nmea(fix.text, received_at=WHEN).position.lat == 30.0
