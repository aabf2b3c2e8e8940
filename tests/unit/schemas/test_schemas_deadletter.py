"""The one dead-letter model of city.deadletter.v1: both writers, their old records, its rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import DeadLetter, RejectReason, StreamRejectReason

AT = datetime(2025, 5, 1, 4, 0, 0, 123, tzinfo=UTC)
TOPIC = "city/vending/nbvend/VM-1/telemetry"
# Exactly what a collector wrote before the two records became one model (no `source`).
COLLECTOR_KEYS = {
    "reason",
    "detail",
    "field",
    "topic",
    "device_id",
    "payload_b64",
    "payload_size",
    "payload_truncated",
    "collector_id",
    "redelivered",
    "received_at",
}


def _collector(**changes: Any) -> DeadLetter:
    options: dict[str, Any] = {
        "reason": RejectReason.INVALID_FIELD,
        "detail": "Input should be >= 0",
        "field": "amount_fen",
        "topic": TOPIC,
        "device_id": "VM-1",
        "payload": b'{"amount_fen": -1}',
        "payload_limit": 1024,
        "collector_id": "c1",
        "received_at": AT,
    }
    return DeadLetter.build(**(options | changes))


def _collector_json(**changes: Any) -> dict[str, Any]:
    return json.loads(_collector().model_dump_json()) | changes


def _streams_json(**changes: Any) -> dict[str, Any]:
    record = {
        "source": "streams",
        "reason": "influx_rejected",
        "detail": "partial write",
        "app_id": "cityiot-streams",
        "line": "m x=1i 1",
        "status": 400,
        "received_at": "2025-05-01T04:00:00.000123Z",
    }
    return record | changes


def test_deadletter_collector_round_trips() -> None:
    """A collector's record survives JSON; its keys are the old ones plus source=collector."""
    letter = _collector()
    data = json.loads(letter.model_dump_json())
    assert set(data) == COLLECTOR_KEYS | {"source"}
    assert data["source"] == "collector"
    assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter
    assert letter.payload == b'{"amount_fen": -1}'
    assert (letter.payload_size, letter.payload_truncated) == (18, False)


@pytest.mark.parametrize(
    "letter",
    [
        DeadLetter(
            source="streams",
            reason=StreamRejectReason.INFLUX_REJECTED,
            detail="partial write",
            app_id="cityiot-streams",
            line="m x=1i 1",
            status=400,
            received_at=AT,
        ),
        DeadLetter(
            source="streams",
            reason=StreamRejectReason.INVALID_ENVELOPE,
            detail="1 validation error for Envelope",
            app_id="cityiot-streams",
            topic="city.events.v1",
            partition=3,
            offset=41,
            received_at=AT,
        ),
    ],
    ids=["influx_rejected", "invalid_envelope"],
)
def test_deadletter_streams_round_trips(letter: DeadLetter) -> None:
    """A worker's record survives JSON and carries none of the collector's fields."""
    data = json.loads(letter.model_dump_json())
    assert data["source"] == "streams"
    assert not {
        "field",
        "device_id",
        "payload_size",
        "payload_truncated",
        "collector_id",
        "redelivered",
    } & set(data)
    assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter
    assert letter.payload is None


def test_deadletter_reads_records_written_before_source() -> None:
    """An old collector record (no source) is a collector's; an old worker's `at` is its time."""
    old_collector = {k: v for k, v in _collector_json().items() if k != "source"}
    assert DeadLetter.model_validate(old_collector) == _collector()
    old_streams = _streams_json(
        reason="invalid_envelope", line=None, status=None, topic="city.events.v1", partition=0
    )
    old_streams["at"] = old_streams.pop("received_at")
    letter = DeadLetter.model_validate_json(json.dumps(old_streams))
    assert (letter.source, letter.reason, letter.received_at) == (
        "streams",
        StreamRejectReason.INVALID_ENVELOPE,
        AT,
    )


@pytest.mark.parametrize(
    "record",
    [
        _collector_json(reason="not_a_reason"),
        _collector_json(reason="influx_rejected"),
        _streams_json(reason="bad_json"),
        _streams_json(reason="Influx_Rejected"),
    ],
    ids=["unknown", "streams-reason-from-collector", "collector-reason-from-streams", "case"],
)
def test_deadletter_refuses_unknown_or_foreign_reason(record: dict[str, Any]) -> None:
    """A reason is one of its writer's codes: an unknown code or the other writer's is refused."""
    with pytest.raises(ValidationError, match="reason"):
        DeadLetter.model_validate_json(json.dumps(record))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_collector_json(collector_id=None), "needs collector_id"),
        ({k: v for k, v in _collector_json().items() if k != "payload_b64"}, "needs payload_b64"),
        (_collector_json(app_id="cityiot-streams"), "app_id is not a field"),
        (_streams_json(app_id=None), "needs app_id"),
        (_streams_json(collector_id="c1"), "collector_id is not a field"),
        (_streams_json(payload_truncated=True), "payload_truncated is not a field"),
        (_collector_json(received_at="2025-05-01T04:00:00"), "UTC offset"),
        (_collector_json(surprise=1), "Extra inputs"),
    ],
    ids=[
        "collector-without-id",
        "collector-without-payload",
        "collector-with-app-id",
        "streams-without-app-id",
        "streams-with-collector-id",
        "streams-truncated",
        "naive-time",
        "unknown-field",
    ],
)
def test_deadletter_refuses_fields_of_the_wrong_writer(
    record: dict[str, Any], message: str
) -> None:
    """Each writer's required fields are required, the other writer's are refused."""
    with pytest.raises(ValidationError, match=message):
        DeadLetter.model_validate_json(json.dumps(record))


def test_deadletter_build_truncates_and_says_so() -> None:
    """build keeps payload_limit bytes, the full size, and payload_truncated."""
    letter = _collector(payload=b"y" * 50, payload_limit=10)
    assert (letter.payload, letter.payload_size, letter.payload_truncated) == (b"y" * 10, 50, True)
