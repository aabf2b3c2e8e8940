"""Shared constants of the simulator unit tests, and what the collectors would make of a message.

The constants live here, not in conftest.py: run together with other test folders, ``conftest``
names another folder's module, while this name is unique.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import Envelope, Registry, Rejected, RejectReason, decode
from simulator import SimMessage

SEED = 7
DEVICES = 300
# Enough that every reject reason and every variant of most appears, small enough for ~2 s.
MESSAGES = 6000
BAD_RATIO = 0.1
NMEA_RATIO = 0.3
# A fixed clock makes the output byte-for-byte reproducible and lets decode use it as receive time.
NOW = datetime(2026, 5, 1, 4, 30, tzinfo=UTC)


def verdict(msg: SimMessage, registry: Registry, received_at: datetime) -> Envelope | RejectReason:
    """The envelope of an accepted message, or the reason it is rejected."""
    try:
        envelope = decode(msg.topic, msg.payload, received_at=received_at)
    except Rejected as exc:
        return exc.reason
    if envelope.device_id not in registry:
        return RejectReason.UNKNOWN_DEVICE
    return envelope
