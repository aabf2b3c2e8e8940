"""What the streams worker sends to the dead-letter topic (``city.deadletter.v1``).

Two reasons: ``invalid_envelope`` (a record on the events topic that is not an ``Envelope``: an
upstream bug, kept byte for byte) and ``influx_rejected`` (a point InfluxDB refused with a 4xx,
with the line and InfluxDB's error). Neither is retried; both are counted.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["StreamDeadLetter"]


class StreamDeadLetter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["streams"] = "streams"
    reason: Literal["invalid_envelope", "influx_rejected"]
    detail: str = Field(description="Validation error, or InfluxDB's status and message.")
    app_id: str
    line: str | None = Field(None, description="The refused line (influx_rejected).")
    status: int | None = Field(None, description="InfluxDB's HTTP status (influx_rejected).")
    topic: str | None = Field(None, description="Kafka topic of the record (invalid_envelope).")
    partition: int | None = None
    offset: int | None = None
    payload_b64: str | None = Field(None, description="The record's value, base64.")
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @staticmethod
    def b64(value: bytes) -> str:
        return base64.b64encode(value).decode()
