"""decode(): one test per reject reason, check order, strictness and timestamp plausibility."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from schemas_testkit import example, topic_for, wire

from schemas import MAX_PAYLOAD_BYTES, Envelope, Facility, Rejected, RejectReason, decode
from schemas.decode import MAX_FUTURE_SKEW, MAX_JSON_DEPTH, MAX_PAST_AGE, STATUS_TS_FLOOR
from schemas.encode import format_ts

SALE_TOPIC = topic_for("vending", "event")
STATUS_TOPIC = topic_for("vending", "status")


def _reject(topic: str, payload: bytes, received_at: datetime, **kwargs: object) -> Rejected:
    with pytest.raises(Rejected) as info:
        decode(topic, payload, received_at=received_at, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_decode_valid_sale_builds_envelope(received_at: datetime) -> None:
    """A valid sale becomes an envelope with topic parts, UTC ts, seq and the typed body."""
    env = decode(SALE_TOPIC, wire(example("vending_sale")), received_at=received_at)
    assert (env.device_id, env.vendor, env.facility, env.channel) == (
        "VM-330203-0001",
        "nbvend",
        "vending",
        "event",
    )
    assert env.ts == datetime(2025, 5, 1, 4, 5, 31, 250_000, tzinfo=UTC)
    assert env.ts.utcoffset() == timedelta(0)
    assert env.seq == 10482
    assert env.v == 1
    assert env.body.kind == "vending_sale"
    assert env.body.amount_fen == 350
    assert env.source_format == "json"
    assert env.enrichment is None
    assert env.received_at == received_at


def test_decode_result_equals_fully_validated_envelope(received_at: datetime) -> None:
    """The fast path (no re-validation) builds exactly what full validation would."""
    env = decode(SALE_TOPIC, wire(example("vending_sale")), received_at=received_at)
    assert Envelope.model_validate(env.model_dump()) == env
    assert Envelope.model_validate_json(env.model_dump_json()) == env


def test_decode_too_large_rejected_before_anything_else(received_at: datetime) -> None:
    """An oversized payload is too_large even when its topic is also wrong."""
    payload = b" " * (MAX_PAYLOAD_BYTES + 1)
    exc = _reject("not/a/topic", payload, received_at)
    assert exc.reason is RejectReason.TOO_LARGE
    assert str(MAX_PAYLOAD_BYTES) in str(exc)


def test_decode_max_bytes_is_configurable(received_at: datetime) -> None:
    """max_bytes overrides the default limit; exactly the limit is accepted."""
    payload = wire(example("vending_sale"))
    assert decode(SALE_TOPIC, payload, received_at=received_at, max_bytes=len(payload))
    exc = _reject(SALE_TOPIC, payload, received_at, max_bytes=len(payload) - 1)
    assert exc.reason is RejectReason.TOO_LARGE


def test_decode_bad_topic_checked_before_encoding(received_at: datetime) -> None:
    """A bad topic wins over a bad payload."""
    exc = _reject("city/vending/nbvend/VM1/event/x", b"\xff\xfe", received_at)
    assert exc.reason is RejectReason.BAD_TOPIC


def test_decode_unknown_channel(received_at: datetime) -> None:
    """A channel the facility does not have is unknown_channel."""
    exc = _reject(topic_for("vending", "position"), wire(example("vending_sale")), received_at)
    assert exc.reason is RejectReason.UNKNOWN_CHANNEL


def test_decode_non_utf8_is_bad_encoding(received_at: datetime) -> None:
    """GBK text (common on older Chinese firmware) is bad_encoding, naming the byte offset."""
    payload = json.dumps({"ts": 1, "seq": 1, "reason": "开机"}, ensure_ascii=False).encode("gbk")
    exc = _reject(STATUS_TOPIC, payload, received_at)
    assert exc.reason is RejectReason.BAD_ENCODING
    assert "byte" in exc.detail


@pytest.mark.parametrize(
    "payload",
    [b"", b"{", b'{"ts": 1,}', b"null", b"[]", b'"text"', b"42", b"\xef\xbb\xbf{}"],
    ids=["empty", "unclosed", "trailing-comma", "null", "array", "string", "number", "bom"],
)
def test_decode_not_a_json_object_is_bad_json(payload: bytes, received_at: datetime) -> None:
    """Malformed JSON, or JSON that is not an object, is bad_json."""
    exc = _reject(SALE_TOPIC, payload, received_at)
    assert exc.reason is RejectReason.BAD_JSON


def test_decode_nesting_beyond_limit_is_bad_json(received_at: datetime) -> None:
    """Nesting deeper than MAX_JSON_DEPTH is refused before parsing."""
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    too_deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    ok = _reject(SALE_TOPIC, b'{"slot": ' + deep[1:-1].encode() + b"}", received_at)
    assert ok.reason is RejectReason.INVALID_FIELD
    exc = _reject(SALE_TOPIC, b'{"slot": ' + too_deep.encode() + b"}", received_at)
    assert exc.reason is RejectReason.BAD_JSON
    assert "nested" in exc.detail


def test_decode_brackets_inside_strings_do_not_count_as_nesting(received_at: datetime) -> None:
    """A string full of brackets is data, not structure."""
    reason = "[{" * 40 + '\\"' + "}]" * 20
    payload = wire(example("device_status", reason=reason.replace('\\"', "x")))
    env = decode(STATUS_TOPIC, payload, received_at=received_at)
    assert env.body.reason.startswith("[{[{")  # type: ignore[union-attr]


def test_decode_many_shallow_brackets_accepted(received_at: datetime) -> None:
    """Many objects at shallow depth (per-slot stock) are not mistaken for deep nesting."""
    slots = [{"slot": f"S{i}", "stock_pct": 50.0} for i in range(100)]
    payload = wire(example("vending_telemetry", slots=slots))
    env = decode(topic_for("vending", "telemetry"), payload, received_at=received_at)
    assert len(env.body.slots or []) == 100  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount_fen": 3.5}, "amount_fen"),
        ({"amount_fen": -1}, "amount_fen"),
        ({"amount_fen": "350"}, "amount_fen"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": 1.0}, "quantity"),
        ({"payment": "paypal"}, "payment"),
        ({"outcome": "SUCCESS"}, "outcome"),
        ({"price": 350}, "price"),
        ({"seq": -1}, "seq"),
        ({"seq": "1"}, "seq"),
        ({"v": 2}, "v"),
        ({"txn_id": ""}, "txn_id"),
        ({"txn_id": "x" * 65}, "txn_id"),
        ({"ts": True}, "ts"),
        ({"ts": 1746072331000.0}, "ts"),
        ({"ts": "2025-05-01T12:05:31"}, "ts"),
        ({"ts": "01/05/2025 12:05"}, "ts"),
        ({"ts": "2025-02-30T12:00:00Z"}, "ts"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_decode_invalid_sale_field_named(
    changes: dict[str, object], field: str, received_at: datetime
) -> None:
    """Wrong types (no coercion), ranges, enums and extra fields are invalid_field, naming it."""
    exc = _reject(SALE_TOPIC, wire(example("vending_sale", **changes)), received_at)
    assert exc.reason is RejectReason.INVALID_FIELD
    assert exc.field == field
    assert str(exc).startswith(f"invalid_field: {field}: ")


def test_decode_missing_field_named(received_at: datetime) -> None:
    """A missing required field is invalid_field naming it."""
    payload = example("vending_sale")
    del payload["sku"]
    exc = _reject(SALE_TOPIC, wire(payload), received_at)
    assert (exc.reason, exc.field) == (RejectReason.INVALID_FIELD, "sku")


def test_decode_nested_field_path_uses_index(received_at: datetime) -> None:
    """A nested error names its path, e.g. bins[1].filling_level_pct."""
    bins = [
        {"category": "recyclable", "filling_level_pct": 10.0},
        {"category": "kitchen", "filling_level_pct": 101.0},
    ]
    payload = wire(example("recycling_telemetry", bins=bins))
    exc = _reject(topic_for("recycling", "telemetry"), payload, received_at)
    assert exc.field == "bins[1].filling_level_pct"


def test_decode_several_errors_mentioned(received_at: datetime) -> None:
    """When several fields are wrong, the first is the field and the rest are listed."""
    payload = wire(example("vending_sale", quantity=0, payment="paypal"))
    exc = _reject(SALE_TOPIC, payload, received_at)
    assert exc.field == "quantity"
    assert "1 more: payment" in exc.detail


def test_decode_non_finite_position_rejected(received_at: datetime) -> None:
    """NaN/Infinity literals and overflowing numbers never become coordinates."""
    topic = topic_for("mobility", "position")
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        payload = b'{"ts":1746072331000,"seq":1,"lon":121.5,"lat":' + literal + b"}"
        exc = _reject(topic, payload, received_at)
        assert (exc.reason, exc.field) == (RejectReason.INVALID_FIELD, "lat"), literal


def test_decode_ts_formats_accepted(received_at: datetime) -> None:
    """RFC 3339 with offset, Z, space separator, nanoseconds, and epoch ms all give one instant."""
    expected = datetime(2025, 5, 1, 4, 5, 31, 123_456, tzinfo=UTC)
    for ts in (
        "2025-05-01T12:05:31.123456+08:00",
        "2025-05-01T04:05:31.123456Z",
        "2025-05-01 04:05:31.123456789z",
        "2025-05-01t04:05:31.123456+00:00",
    ):
        env = decode(SALE_TOPIC, wire(example("vending_sale", ts=ts)), received_at=received_at)
        assert env.ts == expected, ts
    env = decode(
        SALE_TOPIC, wire(example("vending_sale", ts=1746072331123)), received_at=received_at
    )
    assert env.ts == expected.replace(microsecond=123_000)


def test_decode_window_bounds_inclusive(received_at: datetime) -> None:
    """Exactly 7 days old and exactly 5 minutes ahead are accepted; 1 ms beyond is stale."""
    for ts, ok in (
        (received_at - MAX_PAST_AGE, True),
        (received_at - MAX_PAST_AGE - timedelta(milliseconds=1), False),
        (received_at + MAX_FUTURE_SKEW, True),
        (received_at + MAX_FUTURE_SKEW + timedelta(milliseconds=1), False),
    ):
        payload = wire(example("vending_sale", ts=format_ts(ts)))
        if ok:
            assert decode(SALE_TOPIC, payload, received_at=received_at).ts == ts
        else:
            exc = _reject(SALE_TOPIC, payload, received_at)
            assert (exc.reason, exc.field) == (RejectReason.STALE_TIMESTAMP, "ts")


@pytest.mark.parametrize(
    "ts",
    [1746072331, -1, 0, 10**20, "2019-05-01T12:00:00+08:00", "2035-05-01T12:00:00Z"],
    ids=["epoch-seconds", "negative", "zero", "overflow", "years-old", "years-ahead"],
)
def test_decode_implausible_ts_is_stale_timestamp(ts: object, received_at: datetime) -> None:
    """Seconds sent as milliseconds (1970), overflow, or a clock years off: stale_timestamp."""
    exc = _reject(SALE_TOPIC, wire(example("vending_sale", ts=ts)), received_at)
    assert exc.reason is RejectReason.STALE_TIMESTAMP
    assert exc.field == "ts"


def test_decode_invalid_field_reported_before_stale_ts(received_at: datetime) -> None:
    """The model is checked before the time: a broken message is not blamed on its clock."""
    payload = wire(example("vending_sale", ts=1746072331, amount_fen=-5))
    assert _reject(SALE_TOPIC, payload, received_at).reason is RejectReason.INVALID_FIELD


def test_decode_old_status_accepted_for_last_will(received_at: datetime) -> None:
    """A last will carries its connect-time ts: status may be weeks old, not from before 2020."""
    old = received_at - timedelta(days=40)
    payload = wire(example("device_status", ts=format_ts(old), state="offline"))
    assert decode(STATUS_TOPIC, payload, received_at=received_at).ts == old
    ancient = wire(example("device_status", ts=format_ts(STATUS_TS_FLOOR - timedelta(days=1))))
    assert _reject(STATUS_TOPIC, ancient, received_at).reason is RejectReason.STALE_TIMESTAMP
    future = wire(example("device_status", ts=format_ts(received_at + timedelta(hours=1))))
    assert _reject(STATUS_TOPIC, future, received_at).reason is RejectReason.STALE_TIMESTAMP


def test_decode_naive_received_at_is_caller_error() -> None:
    """received_at without a timezone is a programming error, not a device's fault."""
    with pytest.raises(ValueError, match="timezone-aware"):
        decode(SALE_TOPIC, wire(example("vending_sale")), received_at=datetime(2025, 5, 1))


def test_decode_received_at_normalised_to_utc(received_at: datetime) -> None:
    """A receive time in another zone is stored in UTC, same instant."""
    beijing = received_at.astimezone(datetime.fromisoformat("2025-01-01T00:00+08:00").tzinfo)
    env = decode(SALE_TOPIC, wire(example("vending_sale")), received_at=beijing)
    assert env.received_at == received_at
    assert env.received_at.utcoffset() == timedelta(0)


def test_decode_position_json_and_status_on_every_facility(received_at: datetime) -> None:
    """Status is accepted on every facility; JSON positions go to mobility_position."""
    for facility in Facility:
        env = decode(
            topic_for(facility.value, "status"),
            wire(example("device_status")),
            received_at=received_at,
        )
        assert env.body.kind == "device_status"
    env = decode(
        topic_for("mobility", "position"),
        wire(example("mobility_position")),
        received_at=received_at,
    )
    assert env.body.kind == "mobility_position"
    assert env.source_format == "json"
