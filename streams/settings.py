"""Streams settings (``CITYIOT_STREAM_*``), a section of :class:`cityiot.settings.Settings`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["StreamSettings"]


class StreamSettings(BaseModel):
    """How a streams worker consumes events and writes InfluxDB."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    app_id: str = Field(
        "cityiot-streams", description="Faust app id (consumer group and table names)."
    )
    allowed_lateness_s: int = Field(
        600,
        ge=0,
        description="How late (s) an event may arrive and still update its 1-minute window.",
    )
