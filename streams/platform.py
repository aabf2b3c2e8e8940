"""The platform's own points (pure): ``deadletters`` per dead letter, ``platform_stats`` per worker.

These feed the Platform and Device-health dashboards; their names, tags and fields are a contract
with ``dashboards/`` (streams/README.md, "Platform points").

``deadletters``: one point per record of the dead-letter topic, read as a
:class:`schemas.DeadLetter`; its ``source`` (``collector`` or ``streams``) is the ``component``
tag. A record the model refuses (a foreign writer, a bug, junk) is still a dead letter and is
still counted: it is read as plain JSON, field by field, and what it lacks becomes ``unknown``.
Its time is the dead letter's own (``received_at``; the Kafka timestamp if it has none) plus a
stable offset below one microsecond from a hash of its topic and payload: two dead letters of
the same microsecond stay two points, and a replayed record overwrites its own point.

``platform_stats``: one point per worker and stats interval, its fields a
:class:`schemas.PlatformStats`: counters as deltas since the previous point that reached
InfluxDB (a failed write keeps them for the next one), and the events topic's lag.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import ValidationError
from pydantic_core import from_json

from schemas import DeadLetter, Facility, PlatformStats
from schemas.topic import VENDOR_PATTERN
from streams.lineproto import line

__all__ = [
    "DEADLETTERS",
    "DETAIL_MAX",
    "PLATFORM_STATS",
    "StatsCounters",
    "deadletter_point",
    "stats_point",
]

DEADLETTERS = "deadletters"
PLATFORM_STATS = "platform_stats"
# Enough to recognise the error on a dashboard; the full text stays in the Kafka record.
DETAIL_MAX = 200
UNKNOWN = "unknown"
_NS_PER_US = 1000
# Reason codes are short snake_case words (schemas.RejectReason, schemas.StreamRejectReason);
# anything else in a record the model refuses becomes "unknown" so it cannot mint series.
_REASON = re.compile(r"[a-z][a-z0-9_]{0,39}")
_VENDOR = re.compile(VENDOR_PATTERN)
_FACILITIES = frozenset(f.value for f in Facility)


class _Seen(NamedTuple):
    """What a ``deadletters`` point is made of, however the record was read."""

    component: str
    reason: str
    topic: str
    device_id: str
    detail: str
    payload: str  # what identifies the record beside its topic (hashed into the timestamp)
    at_us: int


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _epoch_us(at: datetime) -> int:
    # Integer arithmetic: a float timestamp of today's dates can be off by a microsecond.
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _when(data: dict[str, Any], fallback_ms: int) -> int:
    """The dead letter's own time in µs since the epoch (the Kafka timestamp if it has none)."""
    raw = data.get("received_at") or data.get("at")
    if isinstance(raw, str):
        try:
            at = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return _epoch_us(at if at.tzinfo else at.replace(tzinfo=UTC))
    return fallback_ms * 1000


def _seen(letter: DeadLetter) -> _Seen:
    return _Seen(
        component=letter.source,
        reason=letter.reason.value,
        topic=letter.topic or "",
        device_id=letter.device_id or "",
        detail=letter.detail,
        payload=letter.payload_b64 or letter.line or letter.detail,
        at_us=_epoch_us(letter.received_at),
    )


def _seen_refused(value: bytes, kafka_ts_ms: int) -> _Seen:
    """A record :class:`DeadLetter` refuses, read field by field as plain JSON."""
    try:
        data = from_json(value)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {"reason": "unreadable_record"}
    reason = _text(data.get("reason"))
    return _Seen(
        component="streams" if data.get("source") == "streams" else "collector",
        reason=reason if _REASON.fullmatch(reason) else UNKNOWN,
        topic=_text(data.get("topic")),
        device_id=_text(data.get("device_id")),
        detail=_text(data.get("detail")),
        payload=_text(data.get("payload_b64"))
        or _text(data.get("line"))
        or _text(data.get("detail")),
        at_us=_when(data, kafka_ts_ms),
    )


def _where(topic: str, prefix: str) -> tuple[str, str]:
    """(facility, vendor) from an MQTT topic ``prefix/facility/vendor/...``, else unknown.

    Only the first three levels are needed, so a topic rejected for its channel or device id
    still says whose it was.
    """
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != prefix:
        return UNKNOWN, UNKNOWN
    facility = parts[1] if parts[1] in _FACILITIES else UNKNOWN
    vendor = parts[2] if _VENDOR.fullmatch(parts[2]) else UNKNOWN
    return facility, vendor


def deadletter_point(value: bytes, *, kafka_ts_ms: int, topic_prefix: str = "city") -> str:
    """The ``deadletters`` point of one dead-letter record (any bytes: hostile text is escaped)."""
    try:
        seen = _seen(DeadLetter.model_validate_json(value))
    except ValidationError:
        seen = _seen_refused(value, kafka_ts_ms)
    topic = seen.topic
    facility, vendor = (
        _where(topic, topic_prefix) if seen.component == "collector" else (UNKNOWN, UNKNOWN)
    )
    digest = hashlib.blake2b(f"{topic}\n{seen.payload}".encode(), digest_size=8).digest()
    offset_ns = int.from_bytes(digest, "big") % _NS_PER_US
    tags = (
        ("component", seen.component),
        ("facility", facility),
        ("reason", seen.reason),
        ("vendor", vendor),
    )
    return line(
        DEADLETTERS,
        tags,
        {"count": 1, "device_id": seen.device_id, "detail": seen.detail[:DETAIL_MAX]},
        seen.at_us * _NS_PER_US + offset_ns,
    )


@dataclass
class StatsCounters:
    """Running totals of one worker; :meth:`minus` gives the deltas a point carries."""

    events_in: int = 0
    duplicates: int = 0
    late: int = 0
    points_written: int = 0
    write_errors: int = 0
    deadletters_in: int = 0

    def copy(self) -> StatsCounters:
        return StatsCounters(**{f.name: getattr(self, f.name) for f in fields(self)})

    def minus(self, earlier: StatsCounters) -> dict[str, int]:
        return {f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)}


def stats_point(deltas: Mapping[str, int], *, kafka_lag: int, instance: str, ts_ns: int) -> str:
    """The ``platform_stats`` point of one worker: counter deltas and the events topic's lag.

    Raises:
        pydantic.ValidationError: ``deltas`` are not exactly the counters of
            :class:`schemas.PlatformStats` (a counter added on one side only).
    """
    # Tansu's high watermark can trail the offsets read: a negative lag means none.
    stats = PlatformStats.model_validate({**deltas, "kafka_lag": max(0, kafka_lag)})
    tags = (("component", "streams"), ("instance", instance))
    return line(PLATFORM_STATS, tags, stats.model_dump(), ts_ns)
