"""Envelope → raw point (pure): one line-protocol point per event, sample, fix and status.

Identity. InfluxDB keeps one point per measurement + tags + timestamp, so a replayed event must
land on its own point and two distinct events never on one. Raw points are per device (tag
``device``) and stamped with the device time in nanoseconds plus ``seq mod 10**6``: two messages
of one device in the same millisecond differ by seq, a redelivery (same seq, same ts) overwrites
itself. NMEA fixes have no seq; their device time is their identity (dedup uses it too).

Series budget. Tags are where the event happened: ``device``, ``district`` (adcode),
``district_name``, ``facility``, ``vendor`` (and ``asset_type`` for mobility) — all fixed per
device, so each measurement adds one series per device. What happened (payment, category,
outcome, sku) are fields of the raw point; the ``*_1m`` roll-ups carry payment/outcome and
category as tags for grouping. See ``streams/README.md`` for the budget arithmetic.
"""

from __future__ import annotations

from schemas import Envelope, Facility
from streams.lineproto import escape_measurement, line, line_of
from streams.measurements import MEASUREMENTS

__all__ = ["NS_PER_MS", "SEQ_SLOTS", "UNKNOWN", "device_tags", "point_ns", "raw_line"]

NS_PER_MS = 1_000_000
# Sub-millisecond slots taken by seq: a device would need a million messages in one ms to collide.
SEQ_SLOTS = 1_000_000
UNKNOWN = "unknown"


def device_tags(env: Envelope) -> tuple[tuple[str, str], ...]:
    """Where the device is: the tags every point about it carries (without ``device``)."""
    enr = env.enrichment
    district = UNKNOWN
    district_name = ""
    asset_type = ""
    if enr is not None:
        district = enr.district_adcode or UNKNOWN
        district_name = enr.district_name or ""
        asset_type = enr.asset_type or ""
    if env.facility is Facility.MOBILITY and not asset_type:
        asset_type = getattr(env.body, "asset_type", None) or UNKNOWN
    return (
        ("asset_type", asset_type),
        ("district", district),
        ("district_name", district_name),
        ("facility", env.facility.value),
        ("vendor", env.vendor),
    )


def point_ns(env: Envelope) -> int:
    """The raw point's timestamp: device time (ms) plus a seq-derived sub-millisecond offset."""
    offset = 0 if env.seq is None else env.seq % SEQ_SLOTS
    return env.ts_ms * NS_PER_MS + offset


def raw_line(env: Envelope, device_tag_text: str | None = None) -> str:
    """The raw point of one envelope, measurement named after its ``kind``.

    ``device_tag_text``: the device's escaped tags (``lineproto.tag_text`` of ``device`` and
    :func:`device_tags`, sorted), when the caller keeps them."""
    kind = env.body.kind
    fields = MEASUREMENTS[kind].raw_fields(env.body)
    fields["seq"] = env.seq
    if device_tag_text is not None:
        return line_of(escape_measurement(kind) + device_tag_text, fields, point_ns(env))
    tags = (("device", env.device_id), *device_tags(env))
    return line(kind, sorted(tags), fields, point_ns(env))
