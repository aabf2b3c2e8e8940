"""Alert state: what the engine remembers per device, serialisable for a changelogged table.

One :class:`DeviceAlerts` per device holds a :class:`RuleState` per (rule, subject), keyed by
fingerprint. Keeping a device's states together lets the worker key its table by ``device_id``,
the key ``city.events.v1`` is partitioned by, so table and stream are co-partitioned and the
changelog restores exactly after a restart (a table keyed otherwise came back wrong: FACTS.md).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import UtcDatetime

__all__ = ["DeviceAlerts", "Phase", "RuleState", "fingerprint"]

Phase = Literal["inactive", "pending", "firing", "recovering"]


def fingerprint(rule_id: str, subject: dict[str, str]) -> str:
    """Stable id of (rule, subject): 16 hex digits of SHA-256 over canonical JSON.

    Only identity labels go in (device id, list item), never context such as the district, so a
    bike crossing a district border keeps its alert.
    """
    return _fingerprint(rule_id, tuple(sorted(subject.items())))


# The engine asks for the same few fingerprints per device on every message (~40 µs each to
# compute); a bounded cache covers a city's devices × rules.
@lru_cache(maxsize=262_144)
def _fingerprint(rule_id: str, items: tuple[tuple[str, str], ...]) -> str:
    subject = dict(items)
    canonical = json.dumps(
        {"rule": rule_id, "subject": subject}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class RuleState(BaseModel):
    """State of one rule for one subject (a device, or one bin of a station)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    rule: str
    subject: dict[str, str]
    phase: Phase = "inactive"
    since: UtcDatetime | None = Field(None, description="Start of the pending/recovering phase.")
    starts_at: UtcDatetime | None = Field(None, description="When the current alert fired.")
    fired_labels: dict[str, str] | None = Field(
        None, description="Labels sent when firing, sent again unchanged when resolving."
    )
    value: float | None = None
    watermark: tuple[int, int] | None = Field(
        None, description="(ts ms, seq) of the last applied message: older or equal is a replay."
    )
    prev_value: float | None = Field(None, description="rate_of_change: previous value.")
    prev_at: UtcDatetime | None = None
    last_seen: UtcDatetime | None = Field(
        None, description="absence/offline: when the last relevant message was received."
    )
    offline_since: UtcDatetime | None = Field(None, description="offline: reported offline at.")

    @property
    def firing(self) -> bool:
        return self.phase in ("firing", "recovering")


class DeviceAlerts(BaseModel):
    """Everything the engine keeps about one device: context for labels, and rule states."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    device_id: str
    facility: str | None = None
    vendor: str | None = None
    district: str | None = Field(None, description="adcode, from the latest enrichment.")
    district_zh: str | None = None
    district_en: str | None = None
    expected_interval_s: int | None = None
    partition: int | None = Field(
        None,
        description="Set by the worker, not the engine: the events partition this device's "
        "state lives in, so a tick for partition p can find its devices after a restart.",
    )
    rules: dict[str, RuleState] = Field(
        default_factory=dict, description="fingerprint → state of one (rule, subject)."
    )

    def firing(self) -> list[RuleState]:
        return [s for s in self.rules.values() if s.firing]

    def last_change(self) -> datetime | None:
        """Latest event time the state has seen (for expiring idle devices)."""
        times = [s.last_seen for s in self.rules.values() if s.last_seen]
        return max(times, default=None)
