"""The platform's own points: ``deadletters`` per record (hostile text too), ``platform_stats``."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import DeadLetter, PlatformStats, StreamRejectReason
from streams.platform import StatsCounters, deadletter_point, stats_point

RX = "2025-05-01T04:00:00.000123Z"
RX_US = int(datetime(2025, 5, 1, 4, tzinfo=UTC).timestamp()) * 1_000_000 + 123


def _collector(topic: str, **extra: object) -> bytes:
    record = {
        "reason": "bad_json",
        "detail": "expected value",
        "topic": topic,
        "device_id": "VM-1",
        "payload_b64": "e30=",
        "payload_size": 2,
        "collector_id": "c1",
        "received_at": RX,
    }
    return json.dumps(record | extra).encode()


def _split(text: str) -> tuple[str, str, int]:
    """(series, fields, timestamp): the series ends at the first space not escaped."""
    match = re.fullmatch(r"((?:[^ \\]|\\.)*) (.*) (\d+)", text)
    assert match is not None, text
    return match[1], match[2], int(match[3])


@pytest.mark.parametrize(
    ("topic", "facility", "vendor"),
    [
        ("city/vending/nbvend/VM-1/telemetry", "vending", "nbvend"),
        ("city/recycling/greenbox/RS-1/nonsense", "recycling", "greenbox"),
        ("city/bogus/nbvend/VM-1/telemetry", "unknown", "nbvend"),
        ("elsewhere/vending/nbvend/VM-1/telemetry", "unknown", "unknown"),
        ("city", "unknown", "unknown"),
    ],
    ids=["parses", "bad-channel", "bad-facility", "bad-prefix", "one-level"],
)
def test_deadletter_point_tags_from_topic(topic: str, facility: str, vendor: str) -> None:
    """facility and vendor come from the MQTT topic's first levels, else ``unknown``."""
    head, fields, _ = _split(deadletter_point(_collector(topic), kafka_ts_ms=0))
    assert head == (
        f"deadletters,component=collector,facility={facility},reason=bad_json,vendor={vendor}"
    )
    assert fields == 'count=1i,device_id="VM-1",detail="expected value"'


def test_deadletter_point_time_is_received_at_plus_stable_offset() -> None:
    """The timestamp is received_at (µs) plus < 1 µs from the payload hash; replays match."""
    one = deadletter_point(_collector("city/vending/nbvend/VM-1/telemetry"), kafka_ts_ms=0)
    two = deadletter_point(
        _collector("city/vending/nbvend/VM-1/telemetry", payload_b64="e31="), kafka_ts_ms=0
    )
    assert one == deadletter_point(_collector("city/vending/nbvend/VM-1/telemetry"), kafka_ts_ms=5)
    ts1, ts2 = _split(one)[2], _split(two)[2]
    assert ts1 // 1000 == ts2 // 1000 == RX_US
    assert ts1 != ts2


def test_deadletter_point_hostile_text_cannot_inject() -> None:
    """Quotes, separators and newlines in every string stay inside one escaped point."""
    hostile = 'a" b,c=d\nevil,x=1 y=2i 1\\'
    raw = _collector(f"city/vending/{hostile}/VM/telemetry", reason=hostile, detail=hostile * 50)
    text = deadletter_point(raw, kafka_ts_ms=0)
    assert "\n" not in text
    head, _, _ = _split(text)
    assert head == "deadletters,component=collector,facility=vending,reason=unknown,vendor=unknown"
    detail = text.split('detail="', 1)[1].rsplit('" ', 1)[0]
    assert len(detail.replace('\\"', '"').replace("\\\\", "\\")) == 200


def test_deadletter_point_streams_and_unreadable_records() -> None:
    """The worker's own dead letters are component=streams; junk still counts, at Kafka time."""
    streams = json.dumps(
        {"source": "streams", "reason": "influx_rejected", "detail": "400", "at": RX, "line": "x"}
    ).encode()
    head, fields, ts = _split(deadletter_point(streams, kafka_ts_ms=0))
    assert head.startswith("deadletters,component=streams,facility=unknown,reason=influx_rejected")
    assert fields == 'count=1i,device_id="",detail="400"'
    assert ts // 1000 == RX_US
    head, _, ts = _split(deadletter_point(b"\xff not json", kafka_ts_ms=1_746_072_000_000))
    assert "reason=unreadable_record" in head
    assert ts // 1000 == 1_746_072_000_000_000


def test_deadletter_point_of_the_workers_own_record() -> None:
    """A record the worker writes reads through the model: component=streams, its own time."""
    letter = DeadLetter(
        source="streams",
        reason=StreamRejectReason.INVALID_ENVELOPE,
        detail="1 validation error for Envelope",
        app_id="cityiot-streams",
        topic="city.events.v1",
        partition=0,
        offset=7,
        received_at=datetime.fromisoformat(RX),
    )
    head, fields_, ts = _split(deadletter_point(letter.model_dump_json().encode(), kafka_ts_ms=0))
    assert head == (
        "deadletters,component=streams,facility=unknown,reason=invalid_envelope,vendor=unknown"
    )
    assert fields_ == 'count=1i,device_id="",detail="1 validation error for Envelope"'
    assert ts // 1000 == RX_US


@pytest.mark.parametrize(
    "record",
    [
        {"collector_id": None},
        {"surprise": True},
        {"received_at": RX.removesuffix("Z")},
    ],
    ids=["missing-field", "unknown-field", "naive-time"],
)
def test_deadletter_point_refused_record_counts_the_same(record: dict[str, object]) -> None:
    """A record the model refuses is still counted, into the point a valid one would make."""
    topic = "city/vending/nbvend/VM-1/telemetry"
    refused = _collector(topic, **record)
    with pytest.raises(ValidationError):
        DeadLetter.model_validate_json(refused)
    assert deadletter_point(refused, kafka_ts_ms=0) == deadletter_point(
        _collector(topic), kafka_ts_ms=0
    )


def test_deadletter_point_refused_record_without_time_takes_kafka_time() -> None:
    """A refused record with no time of its own is counted at its Kafka timestamp."""
    raw = json.dumps({"reason": "bad_json", "topic": "city/vending/nbvend/VM-1/event"}).encode()
    head, fields_, ts = _split(deadletter_point(raw, kafka_ts_ms=1_746_072_000_000))
    assert head == "deadletters,component=collector,facility=vending,reason=bad_json,vendor=nbvend"
    assert fields_ == 'count=1i,device_id="",detail=""'
    assert ts // 1000 == 1_746_072_000_000_000


def test_stats_counters_are_the_platform_stats_fields() -> None:
    """The worker's running counters are exactly the counters of schemas.PlatformStats."""
    counters = [f.name for f in fields(StatsCounters)]
    assert [*counters, "kafka_lag"] == list(PlatformStats.model_fields)


def test_stats_point_refuses_an_undeclared_counter() -> None:
    """A counter the model does not declare cannot slip into the point unseen."""
    with pytest.raises(ValidationError):
        stats_point({"events_in": 1, "bogus": 2}, kafka_lag=0, instance="a", ts_ns=1)


def test_stats_point_deltas_and_clamped_lag() -> None:
    """Counter deltas since the previous point, integers; a negative lag becomes 0."""
    before, now = StatsCounters(events_in=10, duplicates=1), StatsCounters(events_in=25, late=2)
    text = stats_point(now.minus(before), kafka_lag=-3, instance="host a:app", ts_ns=7)
    assert text == (
        "platform_stats,component=streams,instance=host\\ a:app events_in=15i,duplicates=-1i,"
        "late=2i,points_written=0i,write_errors=0i,deadletters_in=0i,kafka_lag=0i 7"
    )
