"""The dead-letter record on ``city.deadletter.v1``: whatever the platform rejected, and why.

Two writers share the topic and this one model; ``source`` says which wrote a record.

* ``collector``: a device message the contract refused (a :class:`RejectReason`), exactly as
  received: its MQTT ``topic``, ``device_id`` when the topic parses, and the raw bytes in
  ``payload_b64`` so a fixed message can be replayed byte for byte. Keyed by device_id, else by
  the topic.
* ``streams``: the worker's own failures (a :class:`StreamRejectReason`): ``invalid_envelope``, a
  record of the events topic that is not an envelope (its Kafka ``topic``, ``partition`` and
  ``offset``), and ``influx_rejected``, a point InfluxDB refused with a 4xx (the ``line`` and
  InfluxDB's ``status``). Unkeyed.

Fields of the other writer stay unset (the model refuses them) and are left out of the JSON, so a
collector's record reads as it always did, plus ``"source": "collector"``. Records written before
``source`` existed are read as the collector's, and the worker's old ``at`` as ``received_at``.
Serialised with ``model_dump_json()``; ``streams/platform.py`` reads it back with this model.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from schemas.common import UtcDatetime
from schemas.errors import RejectReason, StreamRejectReason

__all__ = ["DeadLetter", "DeadLetterSource"]

DeadLetterSource = Literal["collector", "streams"]

# Fields that belong to one writer; the other writer leaves them at their default.
_COLLECTOR_ONLY = (
    "field",
    "device_id",
    "payload_size",
    "payload_truncated",
    "collector_id",
    "redelivered",
)
_STREAMS_ONLY = ("app_id", "line", "status", "partition", "offset")
_REQUIRED: dict[DeadLetterSource, tuple[str, ...]] = {
    "collector": ("topic", "payload_b64", "payload_size", "collector_id"),
    "streams": ("app_id",),
}
_REASONS: dict[DeadLetterSource, type[RejectReason | StreamRejectReason]] = {
    "collector": RejectReason,
    "streams": StreamRejectReason,
}


def _per_source_json_schema(schema: dict[str, Any]) -> None:
    """State the per-source rules in the exported JSON Schema too, not only in the validator."""

    def rules(source: DeadLetterSource) -> dict[str, Any]:
        required = _REQUIRED[source]
        properties: dict[str, Any] = {name: {"not": {"type": "null"}} for name in required}
        properties["reason"] = {"enum": [r.value for r in _REASONS[source]]}
        return {"required": list(required), "properties": properties}

    schema["if"] = {"properties": {"source": {"const": "streams"}}, "required": ["source"]}
    schema["then"] = rules("streams")
    schema["else"] = rules("collector")


class DeadLetter(BaseModel):
    """Who rejected what, why, when, and the rejected input itself."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra=_per_source_json_schema
    )

    source: DeadLetterSource = Field(
        "collector", description="Writer: a collector replica, or a streams worker."
    )
    reason: RejectReason | StreamRejectReason = Field(
        description="Reason code (also the metric label): a RejectReason from a collector, "
        "a StreamRejectReason from a streams worker."
    )
    detail: str = Field(
        description="Human-readable explanation: the validation error, or InfluxDB's message."
    )
    field: str | None = Field(
        None, description="Offending field path, if one field is to blame (collector)."
    )
    topic: str | None = Field(
        None,
        description="Where the rejected input was read: the MQTT topic (collector, always set), "
        "the Kafka topic of the record (streams, invalid_envelope).",
    )
    device_id: str | None = Field(None, description="From the topic, when it parses (collector).")
    payload_b64: str | None = Field(
        None,
        description="Raw payload, standard base64 (RFC 4648, no newlines); always set by a "
        "collector.",
    )
    payload_size: int | None = Field(
        None, ge=0, description="Size of the payload as received; bytes (collector)."
    )
    payload_truncated: bool = Field(
        False,
        description="True when payload_b64 holds only the first bytes of a huge payload "
        "(collector).",
    )
    collector_id: str | None = Field(
        None, description="The collector replica that rejected it (collector)."
    )
    redelivered: bool = Field(
        False,
        description="The broker delivered the message again (MQTT DUP flag): an earlier "
        "delivery may have been dead-lettered already, so a record with the same topic and "
        "payload before it on the topic is this message, not another (collector).",
    )
    app_id: str | None = Field(None, description="The streams app that rejected it (streams).")
    line: str | None = Field(None, description="The refused line protocol (influx_rejected).")
    status: int | None = Field(None, description="InfluxDB's HTTP status (influx_rejected).")
    partition: int | None = Field(
        None, ge=0, description="Kafka partition of the record (invalid_envelope)."
    )
    offset: int | None = Field(
        None, ge=0, description="Kafka offset of the record (invalid_envelope)."
    )
    received_at: UtcDatetime = Field(
        description="When the writer took in what it rejected: the MQTT message (collector), "
        "the record or InfluxDB's refusal (streams); UTC."
    )

    @model_validator(mode="before")
    @classmethod
    def _legacy_at(cls, data: Any) -> Any:
        # The worker wrote its time as `at` before the two records became one model; such
        # records stay on the topic for its retention and must still be read.
        if isinstance(data, dict) and "at" in data and "received_at" not in data:
            data = {k: v for k, v in data.items() if k != "at"} | {"received_at": data["at"]}
        return data

    @model_validator(mode="after")
    def _fits_source(self) -> Self:
        if not isinstance(self.reason, _REASONS[self.source]):
            raise ValueError(f"reason {self.reason.value!r} is not a {self.source} reason")
        for name in _REQUIRED[self.source]:
            if getattr(self, name) is None:
                raise ValueError(f"a {self.source} dead letter needs {name}")
        for name in _STREAMS_ONLY if self.source == "collector" else _COLLECTOR_ONLY:
            if getattr(self, name) != type(self).model_fields[name].default:
                raise ValueError(f"{name} is not a field of a {self.source} dead letter")
        return self

    @model_serializer(mode="wrap")
    def _own_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The other writer's fields are always unset: leaving them out keeps each writer's
        # records as they were before the two models became one.
        data: dict[str, Any] = handler(self)
        for name in _STREAMS_ONLY if self.source == "collector" else _COLLECTOR_ONLY:
            data.pop(name, None)
        return data

    @property
    def payload(self) -> bytes | None:
        """The raw payload (its first bytes when ``payload_truncated``), None if not kept."""
        return None if self.payload_b64 is None else base64.b64decode(self.payload_b64)

    @classmethod
    def build(
        cls,
        *,
        reason: RejectReason,
        detail: str,
        field: str | None,
        topic: str,
        device_id: str | None,
        payload: bytes,
        payload_limit: int,
        collector_id: str,
        received_at: datetime,
        redelivered: bool = False,
    ) -> DeadLetter:
        """A collector's dead letter for one MQTT message, keeping at most ``payload_limit``
        bytes of its payload."""
        kept = payload[:payload_limit]
        return cls(
            source="collector",
            reason=reason,
            detail=detail,
            field=field,
            topic=topic,
            device_id=device_id,
            payload_b64=base64.b64encode(kept).decode("ascii"),
            payload_size=len(payload),
            payload_truncated=len(kept) < len(payload),
            collector_id=collector_id,
            received_at=received_at,
            redelivered=redelivered,
        )
