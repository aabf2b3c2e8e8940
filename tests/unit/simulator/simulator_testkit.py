"""What the collectors would make of a message: decode, then the registry look-up."""

from __future__ import annotations

from datetime import datetime

from schemas import Envelope, Registry, Rejected, RejectReason, decode
from simulator import SimMessage


def verdict(msg: SimMessage, registry: Registry, received_at: datetime) -> Envelope | RejectReason:
    """The envelope of an accepted message, or the reason it is rejected."""
    try:
        envelope = decode(msg.topic, msg.payload, received_at=received_at)
    except Rejected as exc:
        return exc.reason
    if envelope.device_id not in registry:
        return RejectReason.UNKNOWN_DEVICE
    return envelope
