"""The alert message on ``city.alerts.v1``: one state change (firing or resolved) of one alert.

Serialised with ``model_dump_json()`` and keyed by :attr:`Alert.fingerprint`, so the firing and
resolved changes of one alert stay ordered in one partition. Every webhook format is rendered
from this model; nothing downstream needs the rule file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.types import Severity
from schemas.common import UtcDatetime

__all__ = ["ALERT_SCHEMA_VERSION", "Alert", "AlertStatus", "Severity"]

# Bump when a field changes meaning; consumers reject versions they do not know.
ALERT_SCHEMA_VERSION: Literal[1] = 1


AlertStatus = Literal["firing", "resolved"]


class Alert(BaseModel):
    """One alert state change: what fired (or resolved), for whom, since when, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    v: Literal[1] = Field(ALERT_SCHEMA_VERSION, description="Alert message schema version.")
    status: AlertStatus
    fingerprint: str = Field(
        pattern=r"^[0-9a-f]{16}$",
        description="Stable id of (rule, subject): the same for the firing and resolved change.",
    )
    rule: str = Field(description="Rule id from the rules file.")
    rule_type: str = Field(description="threshold, absence, offline, geofence or rate_of_change.")
    severity: Severity
    device_id: str
    labels: dict[str, str] = Field(
        description="alertname, severity, device_id, facility, vendor, district..., rule labels."
    )
    summary_zh: str = Field(description="One line for people, in Chinese.")
    summary_en: str = Field(description="The same line in English.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Extra detail, e.g. lat/lon of a geofence breach."
    )
    starts_at: UtcDatetime = Field(description="When the alert started firing (UTC).")
    ends_at: UtcDatetime | None = Field(None, description="When it resolved; None while firing.")
    value: float | None = Field(None, description="The observed value at this change, if any.")

    @property
    def key(self) -> str:
        """Kafka message key: the firing and resolved change of one alert share a partition."""
        return self.fingerprint

    @property
    def idempotency_key(self) -> str:
        """Same for every retry of one notification; differs between firing and resolved, and
        between two incidents of the same (rule, subject)."""
        return f"{self.fingerprint}:{self.status}:{self.starts_at.strftime('%Y%m%dT%H%M%S.%fZ')}"

    @property
    def changed_at(self) -> datetime:
        """When this change happened: ``starts_at`` for firing, ``ends_at`` for resolved."""
        return self.ends_at if self.status == "resolved" and self.ends_at else self.starts_at
