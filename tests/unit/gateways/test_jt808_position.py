"""A location report as the platform's position message, and the per-terminal seq."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateways.jt808.errors import FrameError, FrameReason
from gateways.jt808.messages import GMT8, LocationReport, Status
from gateways.jt808.position import (
    RECENT_REPORTS,
    TerminalCounter,
    position_fields,
    position_payload,
    status_payload,
)
from schemas import MobilityPosition, decode

NOW = datetime.now(UTC).replace(microsecond=0)
TOPIC = "city/mobility/nbbus/BUS-0001/position"
REPORT = LocationReport(
    alarm=0,
    status=int(Status.ACC_ON | Status.POSITIONED | Status.BEIDOU),
    lat_e6=29_871_623,
    lon_e6=121_548_712,
    altitude_m=12,
    speed_dkmh=326,
    direction=87,
    time=NOW.astimezone(GMT8),
    extras={0x31: b"\x15"},
)


def test_position_payload_passes_the_contract() -> None:
    """The collectors' own decode accepts it: ts GMT+8, seq, lat/lon, speed, heading, satellites."""
    envelope = decode(TOPIC, position_payload(position_fields(REPORT), seq=7), received_at=NOW)
    body = envelope.body
    assert isinstance(body, MobilityPosition)
    assert envelope.seq == 7
    assert envelope.ts == NOW
    assert (body.lat, body.lon, body.speed_kmh, body.heading_deg) == (
        29.871623,
        121.548712,
        32.6,
        87,
    )
    assert (body.altitude_m, body.satellites, body.fix, body.state) == (12, 21, "gps", "in_service")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.SOUTH | Status.WEST | Status.POSITIONED, {"lat": -29.871623, "lon": -121.548712}),
        (Status.ACC_ON, {"fix": "none", "state": "in_service"}),
        (Status.POSITIONED, {"fix": "gps", "state": "parked"}),
        (Status.ACC_ON | Status.OUT_OF_SERVICE, {"state": "out_of_service"}),
    ],
    ids=["south-west", "no-fix", "acc-off", "out-of-service"],
)
def test_position_fields_follow_the_status_bits(
    status: Status, expected: dict[str, object]
) -> None:
    """Hemispheres sign lat/lon; no fix is 'none'; ACC and the service bit give the state."""
    fields = position_fields(replace(REPORT, status=int(status)))
    assert {k: fields[k] for k in expected} == expected


def test_position_fields_leave_out_what_the_terminal_does_not_know() -> None:
    """Direction 0xFFFF (none) and a satellite count above 99 are left out, not refused."""
    fields = position_fields(replace(REPORT, direction=0xFFFF, extras={0x31: b"\xff"}))
    assert "heading_deg" not in fields
    assert "satellites" not in fields
    decode(TOPIC, position_payload(fields, seq=1), received_at=NOW)


def test_position_fields_refuse_encrypted_coordinates() -> None:
    """Status bit 5: the coordinates are ciphertext, not a position."""
    with pytest.raises(FrameError) as info:
        position_fields(replace(REPORT, status=int(Status.ENCRYPTED)))
    assert info.value.reason is FrameReason.UNSUPPORTED


def test_status_payload_passes_the_contract_and_drops_a_bad_firmware() -> None:
    """online/offline with a reason; a software version with spaces is left out."""
    topic = "city/mobility/nbbus/BUS-0001/status"
    good = status_payload("online", reason="boot", seq=3, ts=NOW, firmware="fw-1.2")
    assert decode(topic, good, received_at=NOW).body.model_dump()["firmware"] == "fw-1.2"
    spaced = status_payload("offline", reason="idle_timeout", seq=4, ts=NOW, firmware="v 1")
    assert "firmware" not in json.loads(spaced)
    decode(topic, spaced, received_at=NOW)


def test_counter_gives_a_retransmitted_report_its_first_seq() -> None:
    """The same body again (a resend) keeps its seq; a new one takes the next; statuses too."""
    counter = TerminalCounter(1000)
    assert counter.for_report(b"a") == (1000, False)
    assert counter.take() == 1001
    assert counter.for_report(b"b") == (1002, False)
    assert counter.for_report(b"a") == (1000, True)
    assert counter.for_report(b"c") == (1003, False)


def test_counter_forgets_bodies_beyond_its_memory() -> None:
    """Only the last RECENT_REPORTS bodies are remembered: an old one is a new report."""
    counter = TerminalCounter(0)
    for i in range(RECENT_REPORTS + 1):
        counter.for_report(bytes([i]))
    assert counter.for_report(bytes([RECENT_REPORTS])) == (RECENT_REPORTS, True)
    assert counter.for_report(bytes([0])) == (RECENT_REPORTS + 1, False)


def test_counter_started_later_starts_above_an_earlier_one() -> None:
    """Seeded with epoch milliseconds: a restarted gateway's seq exceeds the last run's."""
    start = int(NOW.timestamp() * 1000)
    earlier = TerminalCounter(start)
    for i in range(500):  # half a second's worth at 1,000 messages a second
        earlier.for_report(i.to_bytes(2, "big"))
    later = TerminalCounter(int((NOW + timedelta(seconds=1)).timestamp() * 1000))
    assert later.take() > earlier.take()
