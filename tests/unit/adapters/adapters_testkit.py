"""A small vending and recycling adapter for the engine's tests, as parsed YAML to modify."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import yaml

from adapters import Adapter, AdapterSet, parse_adapter

# 2024-05-01T08:00:00Z, the native payloads' time; received two seconds later.
T = 1714550400
RECEIVED_AT = datetime(2024, 5, 1, 8, 0, 2, tzinfo=UTC)
SALE_TOPIC = "city/vending/tv/VM-1/data"
REPORT_TOPIC = "city/recycling/tv/RS-1/report"

SPEC: dict[str, Any] = yaml.safe_load(
    """
adapter: tv-v1
vendor: tv
facility: vending
messages:
  sale:
    topic: vending/tv/{device_id}/data
    channel: event
    fields:
      ts: {from: t, convert: epoch_s_to_ms}
      seq: n
      txn_id: {from: id, convert: to_str}
      sku: item.code
      category: {const: water}
      quantity: {from: item.qty, default: 1}
      amount_fen: {from: yuan, convert: yuan_to_fen}
      payment: {from: pay, map: {WX: wechat, 1: cash, false: ecny}}
      outcome: {const: success}
      slot: {from: lane, optional: true}
"""
)

RECYCLING_SPEC: dict[str, Any] = yaml.safe_load(
    """
adapter: tv-bins
vendor: tv
facility: recycling
messages:
  report:
    topic: recycling/tv/{device_id}/report
    channel: telemetry
    fields:
      ts: {from: time, convert: epoch_s_to_rfc3339}
      seq: sn
      temperature_c: {from: tempF, convert: fahrenheit_to_celsius, round: 1}
      smoke_alarm: {from: smoke, convert: to_bool}
      bins:
        from: bins
        each:
          category: {from: kind, map: {1: recyclable, 2: kitchen}}
          filling_level_pct: {expr: "fill * 100"}
"""
)


def spec(**changes: Any) -> dict[str, Any]:
    """A deep copy of SPEC; ``changes`` replace fields of the sale rule (None deletes one)."""
    data = copy.deepcopy(SPEC)
    fields = data["messages"]["sale"]["fields"]
    for name, value in changes.items():
        if value is None:
            del fields[name]
        else:
            fields[name] = value
    return data


def sale_adapter(**changes: Any) -> Adapter:
    return parse_adapter(spec(**changes), path="tv.yaml")


def adapter_set(*adapters: Adapter, prefix: str = "city") -> AdapterSet:
    return AdapterSet(adapters or [sale_adapter()], prefix=prefix)


def sale(**changes: Any) -> dict[str, Any]:
    """A native sale; a value None removes that key."""
    native: dict[str, Any] = {
        "t": T,
        "n": 7,
        "id": 42,
        "yuan": 3.5,
        "pay": "WX",
        "item": {"code": "6901939621608", "qty": 2},
        "lane": "A3",
    }
    native.update(changes)
    return {k: v for k, v in native.items() if v is not None}
