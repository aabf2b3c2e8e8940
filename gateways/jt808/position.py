"""JT/T 808 onto the platform's messages: a location report as ``mobility/position`` JSON, a
terminal's connection as ``status`` JSON, and the per-terminal ``seq`` (pure).

**seq.** The 808 serial number cannot be the contract's ``seq``: it counts every terminal
message (heartbeats too, so its gaps are no loss), wraps at 65535 and starts again from 0 on
many terminals' reconnects. The gateway keeps a counter per terminal instead
(:class:`TerminalCounter`), one per gateway process, first used when the terminal first
authenticates there. It starts at the Unix time in milliseconds and counts one per published
message, so a counter started later (the gateway restarted, the terminal moved to another
replica) starts above every seq an earlier one gave, as long as a terminal averages under 1,000
messages a second. Each new counter announces itself with a ``status`` ``online`` of reason
``boot``: the platform starts a new boot for the device there (``resets`` in device health)
instead of counting the jump as lost messages. A reconnect to the same gateway process goes on
with the same counter (reason ``connected``).

**Retransmissions.** A terminal that gets no 0x8001 for a report sends it again, with a new
serial number or after a reconnect. The counter remembers the last ``RECENT_REPORTS`` report
bodies (alarm, status, position and the terminal's own time): the same body again gets the same
seq, so with its unchanged ``ts`` the platform drops it as a redelivery.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from datetime import datetime
from typing import Any

from gateways.jt808.errors import FrameError, FrameReason
from gateways.jt808.messages import LocationReport, Status

__all__ = [
    "RECENT_REPORTS",
    "TerminalCounter",
    "position_fields",
    "position_payload",
    "status_payload",
]

# Retransmissions come within a few messages (the terminal resends what is unacknowledged, in
# order); 16 digests of 16 bytes per terminal keep 5,000 terminals under 2 MB.
RECENT_REPORTS = 16
# Directions are 0-359; a terminal without a course sends something else (0xFFFF).
_FULL_CIRCLE = 360
# The contract's bound (schemas.mobility); a larger count is a firmware's garbage, left out
# rather than have the whole fix refused.
_MAX_SATELLITES = 99
# The contract's firmware field (schemas.status); a 2019 software version with spaces or GBK
# text is left out rather than have the status refused.
_FIRMWARE = re.compile(r"[\x21-\x7e]{1,64}")


class TerminalCounter:
    """The ``seq`` of one terminal's platform messages in this gateway process."""

    def __init__(self, start: int, *, remember: int = RECENT_REPORTS) -> None:
        self.next_seq = start
        self._remember = remember
        self._recent: OrderedDict[bytes, int] = OrderedDict()

    def take(self) -> int:
        """The seq of a new message (a status)."""
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def for_report(self, body: bytes) -> tuple[int, bool]:
        """(seq, True if this body was seen before: a retransmission keeps its seq)."""
        key = hashlib.blake2b(body, digest_size=16).digest()
        seq = self._recent.get(key)
        if seq is not None:
            self._recent.move_to_end(key)
            return seq, True
        seq = self.take()
        self._recent[key] = seq
        if len(self._recent) > self._remember:
            self._recent.popitem(last=False)
        return seq, False


def _state(status: int) -> str:
    if status & Status.OUT_OF_SERVICE:
        return "out_of_service"
    return "in_service" if status & Status.ACC_ON else "parked"


def position_fields(report: LocationReport) -> dict[str, Any]:
    """The ``mobility/position`` fields of a report, without ``seq``.

    Raises:
        FrameError: UNSUPPORTED, the latitude and longitude are encrypted (status bit 5).
    """
    if report.status & Status.ENCRYPTED:
        raise FrameError(FrameReason.UNSUPPORTED, "latitude/longitude encrypted (status bit 5)")
    fields: dict[str, Any] = {
        "ts": report.time.isoformat(),
        "lat": report.lat,
        "lon": report.lon,
        "speed_kmh": report.speed_kmh,
        "altitude_m": report.altitude_m,
        # Without a fix the terminal sends its last known position: the contract's "none".
        "fix": "gps" if report.status & Status.POSITIONED else "none",
        "state": _state(report.status),
    }
    if report.direction < _FULL_CIRCLE:
        fields["heading_deg"] = report.direction
    satellites = report.satellites
    if satellites is not None and satellites <= _MAX_SATELLITES:
        fields["satellites"] = satellites
    return fields


def position_payload(fields: dict[str, Any], *, seq: int) -> bytes:
    """:func:`position_fields` with ``seq``: the JSON of ``city/mobility/<vendor>/<id>/position``.

    Ranges are the collectors' to judge (a speed above 250 km/h is dead-lettered there, with
    the rest of the contract's checks), except the fields :func:`position_fields` leaves out.
    """
    return _dumps(
        {"ts": fields["ts"], "seq": seq, **{k: v for k, v in fields.items() if k != "ts"}}
    )


def status_payload(
    state: str, *, reason: str, seq: int, ts: datetime, firmware: str | None = None
) -> bytes:
    """``status`` JSON: ``online`` when authenticated, ``offline`` when the connection ends."""
    message: dict[str, Any] = {"ts": ts.isoformat(), "seq": seq, "state": state, "reason": reason}
    if firmware and _FIRMWARE.fullmatch(firmware):
        message["firmware"] = firmware
    return _dumps(message)


def _dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
