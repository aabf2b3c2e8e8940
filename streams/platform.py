"""The platform's own points (pure): ``deadletters`` per dead letter, ``platform_stats`` per worker.

These feed the Platform and Device-health dashboards; their names, tags and fields are a contract
with ``dashboards/`` (streams/README.md, "Platform points").

``deadletters``: one point per record of the dead-letter topic, whoever wrote it: a collector
(:class:`collectors.deadletter.DeadLetter`, component ``collector``) or this worker
(:class:`streams.deadletter.StreamDeadLetter`, ``"source": "streams"``, component ``streams``).
The record is read as plain JSON, not through either model: a record neither model accepts is
still a dead letter and is still counted. Its time is the dead letter's own (``received_at``, or
``at`` for the worker's) plus a stable offset below one microsecond from a hash of its MQTT
topic and payload: two dead letters of the same microsecond stay two points, and a replayed
record overwrites its own point.

``platform_stats``: one point per worker and stats interval, counters as deltas since the
previous point that reached InfluxDB (a failed write keeps them for the next one).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json

from schemas import Facility
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
# Reason codes are short snake_case words (schemas.RejectReason, StreamDeadLetter.reason);
# anything else from the topic becomes "unknown" so a stray record cannot mint series.
_REASON = re.compile(r"[a-z][a-z0-9_]{0,39}")
_VENDOR = re.compile(VENDOR_PATTERN)
_FACILITIES = frozenset(f.value for f in Facility)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _when(data: dict[str, Any], fallback_ms: int) -> int:
    """The dead letter's own time in µs since the epoch (the Kafka timestamp if it has none)."""
    raw = data.get("received_at") or data.get("at")
    if isinstance(raw, str):
        try:
            at = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            delta = at - datetime(1970, 1, 1, tzinfo=UTC)
            return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return fallback_ms * 1000


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
        data = from_json(value)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {"reason": "unreadable_record"}
    component = "streams" if data.get("source") == "streams" else "collector"
    reason = _text(data.get("reason"))
    reason = reason if _REASON.fullmatch(reason) else UNKNOWN
    topic = _text(data.get("topic"))
    facility, vendor = _where(topic, topic_prefix) if component == "collector" else (UNKNOWN,) * 2
    payload = _text(data.get("payload_b64")) or _text(data.get("line")) or _text(data.get("detail"))
    digest = hashlib.blake2b(f"{topic}\n{payload}".encode(), digest_size=8).digest()
    offset_ns = int.from_bytes(digest, "big") % _NS_PER_US
    ts = _when(data, kafka_ts_ms) * _NS_PER_US + offset_ns
    tags = (
        ("component", component),
        ("facility", facility),
        ("reason", reason),
        ("vendor", vendor),
    )
    return line(
        DEADLETTERS,
        tags,
        {
            "count": 1,
            "device_id": _text(data.get("device_id")),
            "detail": _text(data.get("detail"))[:DETAIL_MAX],
        },
        ts,
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


def stats_point(deltas: dict[str, int], *, kafka_lag: int, instance: str, ts_ns: int) -> str:
    """The ``platform_stats`` point of one worker: counter deltas and the events topic's lag."""
    values: dict[str, int] = {**deltas, "kafka_lag": max(0, kafka_lag)}
    return line(PLATFORM_STATS, (("component", "streams"), ("instance", instance)), values, ts_ns)
