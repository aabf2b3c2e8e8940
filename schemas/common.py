"""Building blocks shared by every facility's models: base configs, the wire header, field types.

Two model families per message:

* the *body* (``VendingSale``...): payload fields plus a ``kind`` tag, carried in the envelope;
* the *wire message* (``VendingSaleMessage``...): exactly what a device publishes, a flat JSON
  object of ``ts``, ``seq``, optional ``v`` and the same payload fields, without ``kind`` (the
  topic says what it is).

Both inherit the payload fields from one ``...Fields`` class, so the fields are declared once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "SCHEMA_VERSION",
    "SEQ_MAX",
    "Body",
    "Code",
    "Fen",
    "Identifier",
    "Payment",
    "PaymentOutcome",
    "Percent",
    "PseudonymRef",
    "SignalDbm",
    "Temperature",
    "Timestamp",
    "UtcDatetime",
    "WireHeader",
    "construct_validated",
]

# Newest payload schema version: a device sending a higher `v` speaks a contract we don't know.
SCHEMA_VERSION = 1
# Kafka, InfluxDB and most device counters fit a signed 64-bit integer.
SEQ_MAX = 2**63 - 1

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class Body(BaseModel):
    """Base of payload field sets and envelope bodies: strict, closed, immutable, finite floats."""

    model_config = _STRICT


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("naive_datetime", "datetime must carry a UTC offset")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""An aware datetime, normalised to UTC."""

_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return _EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            raise PydanticCustomError(
                "timestamp_out_of_range",
                "epoch milliseconds {value} is out of range",
                {"value": value},
            ) from None
    if isinstance(value, str):
        match = _RFC3339.fullmatch(value)
        if match is None:
            raise PydanticCustomError(
                "timestamp_format",
                "expected an RFC 3339 time with offset (2025-05-01T08:30:00+08:00) "
                "or integer epoch milliseconds",
            )
        date, time, frac, offset = match.groups()
        # fromisoformat takes at most microseconds; RFC 3339 allows any number of digits.
        frac = f".{frac[:6]}" if frac else ""
        offset = "+00:00" if offset in "Zz" else offset
        try:
            return datetime.fromisoformat(f"{date}T{time}{frac}{offset}")
        except ValueError as exc:
            raise PydanticCustomError(
                "timestamp_format", "invalid date or time: {error}", {"error": str(exc)}
            ) from None
    raise PydanticCustomError(
        "timestamp_type", "expected an RFC 3339 string or integer epoch milliseconds"
    )


Timestamp = Annotated[
    datetime,
    BeforeValidator(_parse_ts),
    AfterValidator(_utc),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "integer", "description": "Unix epoch in milliseconds"},
            ],
            "description": "Device time: RFC 3339 with offset, or Unix epoch milliseconds.",
        }
    ),
]
"""Device time on the wire: RFC 3339 string with offset, or integer epoch **milliseconds**."""


class WireHeader(BaseModel):
    """Fields every JSON device message carries, beside its payload fields."""

    model_config = _STRICT

    ts: Timestamp
    seq: int = Field(
        ge=0, le=SEQ_MAX, description="Per-device message counter: deduplication and loss count."
    )
    v: int | None = Field(
        None, ge=1, le=SCHEMA_VERSION, description="Payload schema version (default: newest)."
    )


# Field types, with the units in their names and plausible physical ranges.
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Code = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,15}$")]
Fen = Annotated[
    int, Field(ge=0, le=10_000_000, description="Money in fen (1/100 CNY), never float.")
]
Percent = Annotated[float, Field(ge=0, le=100)]
# Electronics in outdoor cabinets in Zhejiang stay well inside the industrial range -40..85 °C.
Temperature = Annotated[float, Field(ge=-40, le=85, description="Degrees Celsius.")]
# Cellular RSSI/RSRP never exceeds 0 dBm and is unusable below about -140 dBm.
SignalDbm = Annotated[int, Field(ge=-150, le=0, description="Received signal strength, dBm.")]
# A person behind a transaction (a resident, a shopper, a transit card or ride code) is only ever a
# pseudonym: a hash or token the vendor issues, never a name, phone or card number.
PseudonymRef = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_.:=+/-]{1,64}$",
        description="Pseudonymous reference (a hash or token), never a name, phone or card number.",
    ),
]

# How people pay, on every facility that takes money: the same closed set everywhere, so the
# city's consumption adds up across facilities by payment method (it becomes an InfluxDB tag).
# QR codes dominate (WeChat, Alipay); e-CNY since Ningbo joined the digital-RMB pilot; UnionPay
# QuickPass (QR or NFC); stored-value transit cards (市民卡, 交通联合卡); some cash.
Payment = Literal["wechat", "alipay", "unionpay", "ecny", "transit_card", "cash"]
# A payment's result: a failed one charged nothing, a refunded one was charged and paid back.
PaymentOutcome = Literal["success", "failed", "refunded"]


M = TypeVar("M", bound=BaseModel)


def construct_validated(cls: type[M], values: dict[str, Any]) -> M:
    """Build a model from values already validated, in field order, without re-validating.

    What ``model_construct`` does minus its per-field default handling, which was half of
    decode's time. Callers pass every field, each already of its validated type.
    test_decode_result_equals_fully_validated_envelope guards this against pydantic internals
    changing.
    """
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
