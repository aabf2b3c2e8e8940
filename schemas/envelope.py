"""The envelope: a validated device message as it travels on Kafka (``city.events.v1``).

Serialised with pydantic's own ``model_dump_json()`` and read back with
``Envelope.model_validate_json()``; the round trip is exact (the body's ``kind`` tag picks its
model).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.catalog import AnyBody, message_type
from schemas.common import SEQ_MAX, UtcDatetime
from schemas.mobility import AssetType
from schemas.topic import DEVICE_ID_PATTERN, VENDOR_PATTERN, Channel, Facility

__all__ = ["ADAPTER_NAME_PATTERN", "Enrichment", "Envelope", "SourceFormat"]

# An adapter's name, as `adapter:<name>` in source_format: short, lower case, no spaces, so it
# reads well in a dead letter and can never be mistaken for another format.
ADAPTER_NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,47}"
SourceFormat = (
    Literal["json", "nmea"] | Annotated[str, Field(pattern=f"^adapter:{ADAPTER_NAME_PATTERN}$")]
)
"""What the device sent: platform JSON, NMEA 0183 text, or a vendor's own JSON that the named
adapter (``adapters/``) mapped onto the platform's fields before validation."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class Enrichment(BaseModel):
    """What the collectors add from the device registry and the district index."""

    model_config = _CONFIG

    district_adcode: str | None = Field(None, pattern=r"^\d{6}$")
    district_name: str | None = Field(None, description="Chinese name, e.g. 海曙区.")
    district_name_en: str | None = Field(None, description="English name, e.g. Haishu District.")
    vendor: str | None = Field(None, description="Vendor per the registry (may differ from topic).")
    lat: float | None = Field(None, ge=-90, le=90, description="Fixed device: registered WGS-84.")
    lon: float | None = Field(None, ge=-180, le=180)
    asset_type: AssetType | None = None
    expected_interval_s: int | None = Field(None, gt=0)


class Envelope(BaseModel):
    """A device message that passed the contract, with where and when it came from."""

    model_config = _CONFIG

    device_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    facility: Annotated[Facility, Field(strict=False)]
    vendor: str = Field(pattern=f"^{VENDOR_PATTERN}$")
    channel: Annotated[Channel, Field(strict=False)]
    ts: UtcDatetime = Field(description="Device time (UTC).")
    seq: int | None = Field(
        ge=0, le=SEQ_MAX, description="Device counter; None only for NMEA (ts is the identity)."
    )
    v: int | None = None
    received_at: UtcDatetime = Field(description="When the collector received it (UTC).")
    body: AnyBody
    source_format: SourceFormat = Field(
        "json", description="json, nmea, or adapter:<name> (a vendor format mapped by an adapter)."
    )
    enrichment: Enrichment | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Envelope:
        expected = message_type(self.facility, self.channel).kind
        if self.body.kind != expected:
            raise ValueError(f"body kind {self.body.kind!r} does not belong on {expected!r}")
        if self.seq is None and self.source_format != "nmea":
            raise ValueError("seq is required unless source_format is 'nmea'")
        return self

    @property
    def key(self) -> str:
        """Kafka message key: one device's messages stay ordered in one partition."""
        return self.device_id

    @property
    def ts_ms(self) -> int:
        """Device time as integer epoch milliseconds."""
        return (self.ts - _EPOCH) // _MS

    @property
    def dedup_id(self) -> tuple[str, int]:
        """Identity for dropping QoS 1 redeliveries: (device_id, seq); (device_id, ts ms) for NMEA.

        seq and ts-in-ms cannot collide in practice: a counter would need ~1.7e12 messages.
        """
        return (self.device_id, self.seq if self.seq is not None else self.ts_ms)
