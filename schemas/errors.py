"""Errors of the device contract: one base, one reject exception carrying a reason code.

The same :class:`RejectReason` value appears in the exception, the dead-letter record, the metric
label (``cityiot_collector_rejected_total{reason}``) and the vendor documentation, so a vendor, an
operator and a dashboard all speak of a rejected message with one word.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import CityiotError

__all__ = [
    "DistrictDataError",
    "RegistryError",
    "RejectReason",
    "Rejected",
    "SchemaError",
    "StreamRejectReason",
]


class SchemaError(CityiotError):
    """Base of the errors ``schemas`` raises on purpose.

    ``schemas`` imports nothing from the rest of cityiot (arrows point into it), so this base
    stands alone; the CLI catches it beside ``core.errors.CityiotError``.
    """


class RejectReason(StrEnum):
    """Why a device message was not accepted. Permanent: the message goes to the dead letter."""

    BAD_TOPIC = "bad_topic"
    TOO_LARGE = "too_large"
    BAD_ENCODING = "bad_encoding"
    BAD_JSON = "bad_json"
    INVALID_FIELD = "invalid_field"
    STALE_TIMESTAMP = "stale_timestamp"
    UNKNOWN_CHANNEL = "unknown_channel"
    BAD_NMEA = "bad_nmea"
    # Raised by the collectors (registry look-up, per-device rate limit), listed here so that
    # every reason code lives in one enum.
    UNKNOWN_DEVICE = "unknown_device"
    RATE_LIMITED = "rate_limited"
    # The topic names a vendor or facility other than the registry's record of the device: one
    # vendor writing into another's device (its MQTT user is pinned to its own topic level).
    WRONG_VENDOR = "wrong_vendor"
    WRONG_FACILITY = "wrong_facility"


class StreamRejectReason(StrEnum):
    """Why the streams worker dead-lettered something. Permanent: it is never retried.

    Kept apart from :class:`RejectReason`: these are the platform's own failures, not a device
    breaking its contract, so they have no place in the vendor documentation. The two enums share
    no value, so a dead letter's ``reason`` alone says which writer it came from.
    """

    INVALID_ENVELOPE = "invalid_envelope"  # a record on the events topic that is not an Envelope
    INFLUX_REJECTED = "influx_rejected"  # a point InfluxDB refused with a 4xx


class Rejected(SchemaError):
    """A device message that breaks the contract.

    Attributes:
        reason: The reason code (dead-letter record, metric label).
        field: The offending field path on the wire (``amount_fen``, ``bins[1].category``),
            or None when the message as a whole is wrong.
        detail: Human-readable explanation, without the field.
    """

    def __init__(self, reason: RejectReason, detail: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.reason.value}: {where}{self.detail}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps the exception picklable (multiprocessing, pytest-xdist) despite keyword args.
        return (_rebuild_rejected, (self.reason, self.detail, self.field))


def _rebuild_rejected(reason: RejectReason, detail: str, field: str | None) -> Rejected:
    return Rejected(reason, detail, field=field)


class RegistryError(SchemaError):
    """The device registry file is malformed; the message names file, line and field."""


class DistrictDataError(SchemaError):
    """District boundary data is missing or malformed."""
