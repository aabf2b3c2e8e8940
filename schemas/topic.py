"""The MQTT topic grammar: ``{prefix}/{facility}/{vendor}/{device_id}/{channel}``.

The vendor level equals the vendor's MQTT username, so one Mosquitto ACL line
(``pattern write city/+/%u/#``) keeps each vendor inside its own subtree.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from schemas.common import construct_validated
from schemas.errors import Rejected, RejectReason

__all__ = [
    "CHANNELS_BY_FACILITY",
    "DEVICE_ID_PATTERN",
    "VENDOR_PATTERN",
    "Channel",
    "Facility",
    "Topic",
    "parse_topic",
]

VENDOR_PATTERN = r"[a-z0-9][a-z0-9_-]{0,31}"
DEVICE_ID_PATTERN = r"[A-Za-z0-9_.-]{1,64}"
_VENDOR = re.compile(VENDOR_PATTERN)
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)

# Devices reuse a handful of topics, so a bounded cache turns most parses into one dict look-up.
# The bound keeps a flood of distinct junk topics from growing memory.
_TOPIC_CACHE_SIZE = 65_536


class Facility(StrEnum):
    """Kinds of public facility. A new one is a schema module plus an entry in the catalog."""

    VENDING = "vending"
    RECYCLING = "recycling"
    MOBILITY = "mobility"
    STORE = "store"  # unmanned supermarkets and convenience stores (无人超市、无人便利店)
    TRANSIT = "transit"  # one card / one code validators at bus, metro and bike gates


class Channel(StrEnum):
    """Last topic level: what kind of message the device sends."""

    TELEMETRY = "telemetry"  # periodic state
    EVENT = "event"  # a transaction: a sale, a drop-off
    POSITION = "position"  # a GNSS fix, JSON or NMEA 0183
    STATUS = "status"  # online/offline, retained, also the MQTT last will
    GATE = "gate"  # a person passing an entry/exit gate (a store's doors)


CHANNELS_BY_FACILITY: dict[Facility, frozenset[Channel]] = {
    Facility.VENDING: frozenset({Channel.TELEMETRY, Channel.EVENT, Channel.STATUS}),
    Facility.RECYCLING: frozenset({Channel.TELEMETRY, Channel.EVENT, Channel.STATUS}),
    Facility.MOBILITY: frozenset({Channel.POSITION, Channel.TELEMETRY, Channel.STATUS}),
    Facility.STORE: frozenset({Channel.GATE, Channel.EVENT, Channel.TELEMETRY, Channel.STATUS}),
    Facility.TRANSIT: frozenset({Channel.EVENT, Channel.TELEMETRY, Channel.STATUS}),
}

_FACILITIES = {f.value: f for f in Facility}
_CHANNELS = {c.value: c for c in Channel}


class Topic(BaseModel):
    """A parsed device topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prefix: str
    facility: Facility
    vendor: str
    device_id: str
    channel: Channel

    def __str__(self) -> str:
        return "/".join(
            (self.prefix, self.facility.value, self.vendor, self.device_id, self.channel.value)
        )


def parse_topic(topic: str, *, prefix: str = "city") -> Topic:
    """Parse a device topic.

    Raises:
        Rejected: ``bad_topic`` when the structure, prefix, facility, vendor or device id is wrong;
            ``unknown_channel`` when the last level is not a channel of that facility.
    """
    return _parse_topic(topic, prefix)


@lru_cache(maxsize=_TOPIC_CACHE_SIZE)
def _parse_topic(topic: str, prefix: str) -> Topic:
    parts = topic.split("/")
    if len(parts) != 5:
        raise Rejected(
            RejectReason.BAD_TOPIC,
            f"expected {prefix}/{{facility}}/{{vendor}}/{{device_id}}/{{channel}}, "
            f"got {len(parts)} levels in {topic[:200]!r}",
        )
    got_prefix, facility_s, vendor, device_id, channel_s = parts
    if got_prefix != prefix:
        raise Rejected(RejectReason.BAD_TOPIC, f"prefix must be {prefix!r}, got {got_prefix!r}")
    facility = _FACILITIES.get(facility_s)
    if facility is None:
        raise Rejected(
            RejectReason.BAD_TOPIC,
            f"unknown facility {facility_s[:64]!r}; expected one of {sorted(_FACILITIES)}",
        )
    if not _VENDOR.fullmatch(vendor):
        raise Rejected(
            RejectReason.BAD_TOPIC, f"vendor {vendor[:64]!r} does not match {VENDOR_PATTERN}"
        )
    if not _DEVICE_ID.fullmatch(device_id):
        raise Rejected(
            RejectReason.BAD_TOPIC,
            f"device id {device_id[:80]!r} does not match {DEVICE_ID_PATTERN}",
        )
    channel = _CHANNELS.get(channel_s)
    allowed = CHANNELS_BY_FACILITY[facility]
    if channel is None or channel not in allowed:
        raise Rejected(
            RejectReason.UNKNOWN_CHANNEL,
            f"channel {channel_s[:64]!r} is not one of {sorted(c.value for c in allowed)} "
            f"for facility {facility.value!r}",
        )
    return construct_validated(
        Topic,
        {
            "prefix": prefix,
            "facility": facility,
            "vendor": vendor,
            "device_id": device_id,
            "channel": channel,
        },
    )
