"""``decode``: raw MQTT topic and payload → validated :class:`Envelope`, or :class:`Rejected`.

Checks run cheapest first and stop at the first failure: size, topic, UTF-8, JSON (or NMEA on the
``position`` channel), the facility's model, then timestamp plausibility. Pure: no clock, no I/O;
the caller passes ``received_at``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from core.types import MAX_PAYLOAD_BYTES
from schemas.catalog import MessageType, message_type
from schemas.common import construct_validated
from schemas.envelope import ADAPTER_NAME_PATTERN, Envelope, SourceFormat
from schemas.errors import Rejected, RejectReason
from schemas.nmea import parse_nmea
from schemas.topic import Channel, parse_topic

__all__ = [
    "MAX_FUTURE_SKEW",
    "MAX_JSON_DEPTH",
    "MAX_PAST_AGE",
    "MAX_PAYLOAD_BYTES",
    "STATUS_TS_FLOOR",
    "check_timestamp",
    "decode",
]

# 64 KiB: a fat telemetry message is ~2 KiB; anything near this is a bug or an attack, and the
# bound also caps what JSON parsing can allocate.
# Our deepest model nests 3 levels; 32 leaves room for vendors' mistakes to be reported as
# invalid fields, while a pathological [[[[...]]]] is refused before the parser recurses into it.
MAX_JSON_DEPTH = 32
# Devices buffer while offline (cellular dead zones, underground garages, a long holiday outage)
# and flush on reconnect. A week covers that; older data would land outside every roll-up window
# and dedup horizon, and is far more often a wrong clock than a real backlog.
MAX_PAST_AGE = timedelta(days=7)
# Device clocks without NTP drift by seconds, not minutes; a message from further ahead would open
# future windows and is a misconfigured clock or a seconds/milliseconds mix-up.
MAX_FUTURE_SKEW = timedelta(minutes=5)
# Status messages are exempt from MAX_PAST_AGE: a last will carries the ts of the connect that set
# it (possibly weeks ago), and retained statuses are redelivered at every subscribe. Only
# impossible times (epoch seconds read as milliseconds land in 1970) are refused.
STATUS_TS_FLOOR = datetime(2020, 1, 1, tzinfo=UTC)

_ADAPTER_FORMAT = re.compile(f"adapter:{ADAPTER_NAME_PATTERN}")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_PAIR = re.compile(rb"\[\]|\{\}")


def _too_deep(payload: bytes) -> bool:
    """Nesting deeper than MAX_JSON_DEPTH (or unbalanced brackets), without recursion."""
    if payload.count(b"[") + payload.count(b"{") <= MAX_JSON_DEPTH:
        return False  # the common case: cannot be deeper than the number of openers
    brackets = _STRING.sub(b"", payload).translate(None, _NOT_BRACKETS)
    # Each pass removes the innermost pairs, i.e. one level of nesting.
    for _ in range(MAX_JSON_DEPTH):
        if not brackets:
            return False
        brackets, removed = _PAIR.subn(b"", brackets)
        if not removed:
            return True
    return bool(brackets)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _from_validation_error(exc: ValidationError) -> Rejected:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0]
    kind, loc = first["type"], first["loc"]
    if kind == "json_invalid":
        return Rejected(RejectReason.BAD_JSON, first["msg"])
    if not loc:
        return Rejected(RejectReason.BAD_JSON, "payload must be a JSON object")
    if kind == "timestamp_out_of_range":
        return Rejected(RejectReason.STALE_TIMESTAMP, first["msg"], field=_path(loc))
    more = ""
    if len(errors) > 1:
        others = ", ".join(_path(e["loc"]) or "(root)" for e in errors[1:6])
        more = f" (and {len(errors) - 1} more: {others})"
    return Rejected(RejectReason.INVALID_FIELD, first["msg"] + more, field=_path(loc))


def check_timestamp(ts: datetime, *, received_at: datetime, channel: Channel) -> None:
    """Refuse a device time outside [received_at - 7 days, received_at + 5 minutes].

    Raises:
        Rejected: ``stale_timestamp``.
    """
    if ts > received_at + MAX_FUTURE_SKEW:
        raise Rejected(
            RejectReason.STALE_TIMESTAMP,
            f"{ts.isoformat()} is more than {MAX_FUTURE_SKEW} ahead of receive time "
            f"{received_at.isoformat()} (device clock wrong?)",
            field="ts",
        )
    floor = STATUS_TS_FLOOR if channel is Channel.STATUS else received_at - MAX_PAST_AGE
    if ts < floor:
        raise Rejected(
            RejectReason.STALE_TIMESTAMP,
            f"{ts.isoformat()} is before {floor.isoformat()} (clock years off, or epoch seconds "
            "sent where milliseconds are expected?)",
            field="ts",
        )


def decode(
    topic: str,
    payload: bytes,
    *,
    received_at: datetime,
    prefix: str = "city",
    max_bytes: int = MAX_PAYLOAD_BYTES,
    source_format: SourceFormat = "json",
) -> Envelope:
    """Validate one device message and wrap it in an :class:`Envelope` (enrichment left empty).

    Args:
        topic: The MQTT topic it was published on.
        payload: The raw MQTT payload.
        received_at: When the collector received it; must be timezone-aware.
        prefix: First topic level.
        max_bytes: Size limit of the payload.
        source_format: What a JSON payload is recorded as: ``json``, or ``adapter:<name>`` when
            an adapter made ``payload`` from a vendor's own format. NMEA text is always ``nmea``.

    Raises:
        Rejected: The message breaks the contract; ``reason`` says how, ``field`` where.
        ValueError: ``received_at`` is naive, or ``source_format`` is neither ``json`` nor
            ``adapter:<name>`` (a caller bug, not a device's fault).
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    if source_format != "json" and not _ADAPTER_FORMAT.fullmatch(source_format):
        # The envelope is built without re-validation below: a wrong value would pass unseen.
        raise ValueError(f"source_format must be 'json' or 'adapter:<name>', not {source_format!r}")
    received_at = received_at.astimezone(UTC)
    if len(payload) > max_bytes:
        raise Rejected(
            RejectReason.TOO_LARGE, f"payload is {len(payload)} bytes, limit is {max_bytes}"
        )
    parsed = parse_topic(topic, prefix=prefix)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(
            RejectReason.BAD_ENCODING, f"not UTF-8 at byte {exc.start}: {exc.reason}"
        ) from None
    mt = message_type(parsed.facility, parsed.channel)
    if parsed.channel is Channel.POSITION and text.lstrip().startswith("$"):
        fix = parse_nmea(text, received_at=received_at)
        check_timestamp(fix.ts, received_at=received_at, channel=parsed.channel)
        fields: dict[str, Any] = {"ts": fix.ts, "seq": None, "v": None, "body": fix.position}
        source: SourceFormat = "nmea"
    else:
        fields = _decode_json(payload, mt, received_at=received_at, channel=parsed.channel)
        source = source_format
    return construct_validated(
        Envelope,
        {
            "device_id": parsed.device_id,
            "facility": parsed.facility,
            "vendor": parsed.vendor,
            "channel": parsed.channel,
            "ts": fields["ts"],
            "seq": fields["seq"],
            "v": fields["v"],
            "received_at": received_at,
            "body": fields["body"],
            "source_format": source,
            "enrichment": None,
        },
    )


def _decode_json(
    payload: bytes, mt: MessageType, *, received_at: datetime, channel: Channel
) -> dict[str, Any]:
    if _too_deep(payload):
        raise Rejected(
            RejectReason.BAD_JSON, f"nested deeper than {MAX_JSON_DEPTH} levels (or unbalanced)"
        )
    try:
        wire = mt.wire.model_validate_json(payload)
    except ValidationError as exc:
        raise _from_validation_error(exc) from None
    check_timestamp(wire.ts, received_at=received_at, channel=channel)
    values = wire.__dict__
    body = construct_validated(
        mt.body, {**{name: values[name] for name in mt.body_fields}, "kind": mt.kind}
    )
    return {"ts": wire.ts, "seq": wire.seq, "v": wire.v, "body": body}
