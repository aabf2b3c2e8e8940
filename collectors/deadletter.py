"""The dead-letter record on ``city.deadletter.v1``: a rejected message, exactly as received.

One record per rejected MQTT message, JSON (pydantic's own serialiser), keyed by device_id when the
topic parses, else by the topic. ``payload_b64`` holds the raw bytes so a fixed message can be
replayed byte for byte.
"""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas import RejectReason
from schemas.common import UtcDatetime

__all__ = ["DeadLetter"]


class DeadLetter(BaseModel):
    """Why a message was rejected, where it came from, and its raw bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: RejectReason = Field(description="Reason code (also the metric label).")
    detail: str = Field(description="Human-readable explanation.")
    field: str | None = Field(None, description="Offending field path, if one field is to blame.")
    topic: str = Field(description="MQTT topic it was published on.")
    device_id: str | None = Field(None, description="From the topic, when the topic parses.")
    payload_b64: str = Field(description="Raw payload, standard base64 (RFC 4648, no newlines).")
    payload_size: int = Field(ge=0, description="Size of the payload as received; bytes.")
    payload_truncated: bool = Field(
        False, description="True when payload_b64 holds only the first bytes (huge payloads)."
    )
    collector_id: str = Field(description="The collector replica that rejected it.")
    received_at: UtcDatetime = Field(description="When the collector received it (UTC).")

    @property
    def payload(self) -> bytes:
        """The raw payload (or its first bytes when ``payload_truncated``)."""
        return base64.b64decode(self.payload_b64)

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
    ) -> DeadLetter:
        kept = payload[:payload_limit]
        return cls(
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
        )
