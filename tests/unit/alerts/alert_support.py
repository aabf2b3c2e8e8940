"""Builders for alert tests: envelopes of any kind, times, and an engine driver."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import Enrichment, Envelope
from schemas.alert import Alert
from schemas.catalog import message_type_of_kind
from streams.alerts.engine import AlertEngine
from streams.alerts.state import DeviceAlerts

# 10:00 in Ningbo (UTC+8): inside the default opening hours.
T0 = datetime(2025, 5, 1, 2, 0, tzinfo=UTC)

_REQUIRED: dict[str, dict[str, Any]] = {
    "vending_telemetry": {"temperature_c": 6.0, "door_open": False},
    "vending_sale": {
        "txn_id": "T1",
        "sku": "6901939621608",
        "category": "soft_drink",
        "quantity": 1,
        "amount_fen": 350,
        "payment": "wechat",
        "outcome": "success",
    },
    "recycling_telemetry": {
        "bins": [{"category": "recyclable", "filling_level_pct": 10.0, "bin_id": "B1"}],
        "temperature_c": 24.0,
        "smoke_alarm": False,
    },
    "mobility_position": {"lat": 29.87, "lon": 121.55, "asset_type": "bike"},
    "store_telemetry": {
        "people_count": 3,
        "cabinets": [{"cabinet_id": "C1", "temperature_c": 4.0}],
        "gates": [{"gate_id": "G1", "fault": False}],
    },
    "transit_tap": {
        "txn_id": "X1",
        "tap": "in",
        "mode": "metro",
        "line_id": "M1",
        "stop_id": "M1-01",
        "medium": "card",
        "medium_ref": "m:1",
        "payment": "transit_card",
        "fare_fen": 0,
    },
    "transit_telemetry": {"mode": "metro", "in_service": True, "reader_fault": False},
    "device_status": {"state": "online"},
}
_DEVICES = {
    "vending": "VM-330203-0001",
    "recycling": "RS-330212-0007",
    "mobility": "EB-0042817",
    "store": "ST-330212-0003",
    "transit": "TV-330203-0012",
}
_VENDORS = {
    "vending": "nbvend",
    "recycling": "greenbox",
    "mobility": "citybike",
    "store": "bingobox",
    "transit": "nbmetro",
}

EnvelopeFactory = Callable[..., Envelope]


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    """T0 plus an offset."""
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def make_envelope(
    kind: str,
    ts: datetime,
    seq: int,
    *,
    facility: str | None = None,
    device_id: str | None = None,
    received_at: datetime | None = None,
    district: str | None = "330203",
    expected_interval_s: int | None = None,
    **fields: Any,
) -> Envelope:
    """A valid envelope of ``kind``; the facility follows the kind unless given."""
    mt = message_type_of_kind(kind)
    fac = facility or mt.facilities[0].value
    body = mt.body.model_validate({**_REQUIRED.get(kind, {}), **fields})
    enrichment = Enrichment(
        district_adcode=district,
        district_name="海曙区" if district else None,
        district_name_en="Haishu District" if district else None,
        expected_interval_s=expected_interval_s,
    )
    return Envelope(
        device_id=device_id or _DEVICES[fac],
        facility=fac,
        vendor=_VENDORS[fac],
        channel=mt.channel,
        ts=ts,
        seq=seq,
        received_at=received_at or ts,
        body=body,
        enrichment=enrichment,
    )


class Driver:
    """Feeds an engine like the worker would: one state per device, changes collected."""

    def __init__(self, engine: AlertEngine) -> None:
        self.engine = engine
        self.states: dict[str, DeviceAlerts] = {}
        self.changes: list[Alert] = []

    def feed(self, envelopes: Iterable[Envelope], now: datetime | None = None) -> list[Alert]:
        new: list[Alert] = []
        for env in envelopes:
            result = self.engine.evaluate(
                self.states.get(env.device_id), env, now or env.received_at
            )
            self.states[env.device_id] = result.state
            new += result.changes
        self.changes += new
        return new

    def tick(self, now: datetime) -> list[Alert]:
        new: list[Alert] = []
        for device_id, state in list(self.states.items()):
            result = self.engine.tick(state, now)
            self.states[device_id] = result.state
            new += result.changes
        self.changes += new
        return new

    def statuses(self, rule: str | None = None) -> list[str]:
        return [c.status for c in self.changes if rule is None or c.rule == rule]
