"""Collector settings (``CITYIOT_COLLECTOR_*``), a section of :class:`cityiot.settings.Settings`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CollectorSettings"]


class CollectorSettings(BaseModel):
    """How a collector takes device messages from MQTT and hands them to Kafka."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    group: str = Field("collectors", description="MQTT shared-subscription group of all replicas.")
    client_id: str = Field(
        "cityiot-collector-1",
        description="Stable MQTT client id of this replica (its persistent session follows it).",
    )
