"""One simulated MQTT message and what the simulator knows about it (its label and its facts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas import Body, Facility, RejectReason

__all__ = ["SimMessage"]


@dataclass(frozen=True, slots=True)
class SimMessage:
    """A message to publish, labelled.

    Attributes:
        topic: MQTT topic.
        payload: MQTT payload, exactly as published.
        valid: Whether the collectors accept it.
        reason: For an invalid message, the reason they reject it with.
        device_id: The device it comes from (registered, except for unknown_device).
        facility: The device's facility.
        retain: Published retained (device status).
        seq: The seq it carries if valid JSON; None for NMEA and for invalid messages.
        body: The validated body of a valid message (its facts for the truth file).
        district: Registry district, or for a position the district containing the fix.
        source_format: ``json`` or ``nmea``.
        variant: How an invalid message is broken (``truncated``, ``checksum``...).
        boot: The device's boot it was sent in: 0 from its first start, 1 after its first
            reboot (its seq starts again from 0)...
        ts_ms: Its device time (``ts``) in epoch milliseconds, for a valid JSON message.
    """

    topic: str
    payload: bytes
    valid: bool
    reason: RejectReason | None
    device_id: str
    facility: Facility
    retain: bool = False
    seq: int | None = None
    body: Body | None = None
    district: str | None = None
    source_format: Literal["json", "nmea"] = "json"
    variant: str | None = None
    boot: int = 0
    ts_ms: int | None = None

    @property
    def channel(self) -> str:
        """Last topic level (what the device meant, even on a malformed topic)."""
        return self.topic.rsplit("/", 1)[-1]
