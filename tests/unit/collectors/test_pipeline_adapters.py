"""The pipeline with adapters: native payloads on adapted topics, in the same order of checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters import load_adapters
from collectors.pipeline import Inbound, Pipeline
from collectors.ratelimit import VendorQuota
from schemas import DeadLetter, DeviceRecord, Envelope, Registry, RejectReason
from schemas.examples import EXAMPLES

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "adapters" / "examples"
NOW = datetime(2024, 5, 1, 8, 0, 2, tzinfo=UTC)
T = int(datetime(2024, 5, 1, 8, 0, tzinfo=UTC).timestamp())
VM = "VM-330203-0101"
SALE_TOPIC = f"city/vending/acme/{VM}/data"
REGISTRY = Registry(
    [
        DeviceRecord(
            device_id=VM,
            facility="vending",
            vendor="acme",
            district_adcode="330203",
            lat=29.87,
            lon=121.54,
            expected_interval_s=300,
        ),
        DeviceRecord(
            device_id="VM-OTHER",
            facility="vending",
            vendor="ubox",
            lat=29.87,
            lon=121.54,
            expected_interval_s=300,
        ),
    ]
)


def native_sale(**changes: Any) -> bytes:
    sale = {
        "t": T,
        "n": 1,
        "order": 1001,
        "price_yuan": 3.5,
        "pay": "ZFB",
        "status": 0,
        "item": {"code": "6901939621608", "cat": "water", "qty": 1},
    }
    return json.dumps(sale | changes).encode()


def make(**overrides: Any) -> Pipeline:
    options: dict[str, Any] = {
        "collector_id": "c1",
        "registry": REGISTRY,
        "districts": None,
        "adapters": load_adapters(EXAMPLES_DIR),
        **overrides,
    }
    return Pipeline(**options)


def route(pipeline: Pipeline, topic: str, payload: bytes, monotonic: float = 0.0) -> Any:
    return pipeline.route(Inbound(topic, payload, NOW, monotonic))


def test_route_adapted_payload_becomes_enriched_event() -> None:
    """A native sale on the vendor's own topic is an enriched platform event, keyed by device."""
    routed = route(make(), SALE_TOPIC, native_sale())
    assert (routed.kind, routed.key, routed.reason) == ("event", VM.encode(), None)
    env = Envelope.model_validate_json(routed.value)
    assert (env.channel.value, env.source_format) == ("event", "adapter:acme-v2")
    assert env.body.kind == "vending_sale"
    assert env.enrichment is not None
    assert (env.enrichment.vendor, env.enrichment.district_adcode) == ("acme", "330203")


def test_route_platform_json_of_adapted_vendor_passes_unchanged() -> None:
    """The vendor's topics no rule names (its status) are platform JSON, as before."""
    status = json.dumps({**EXAMPLES["device_status"], "ts": NOW.isoformat()}).encode()
    routed = route(make(), f"city/vending/acme/{VM}/status", status)
    assert routed.kind == "event"
    assert Envelope.model_validate_json(routed.value).source_format == "json"


def test_route_without_adapters_native_topic_is_unknown_channel() -> None:
    """Without the adapter loaded, the vendor's own topic is not the platform's grammar."""
    routed = route(make(adapters=None), SALE_TOPIC, native_sale())
    assert routed.reason is RejectReason.UNKNOWN_CHANNEL


def test_route_adapted_unmappable_payload_is_dead_lettered_raw() -> None:
    """A native payload the adapter cannot map is a dead letter with the native bytes and path."""
    payload = native_sale(pay="PAYPAL")
    routed = route(make(), SALE_TOPIC, payload)
    assert (routed.kind, routed.reason) == ("deadletter", RejectReason.INVALID_FIELD)
    letter = DeadLetter.model_validate_json(routed.value)
    assert (letter.topic, letter.device_id, letter.field) == (SALE_TOPIC, VM, "pay")
    assert "adapter 'acme-v2' rule 'sale'" in letter.detail
    assert letter.payload == payload


def test_route_adapted_topic_is_bound_to_registry_vendor() -> None:
    """The adapter's vendor is the topic's: a device registered to another vendor is refused."""
    routed = route(make(), "city/vending/acme/VM-OTHER/data", native_sale())
    assert routed.reason is RejectReason.WRONG_VENDOR


def test_route_adapted_topic_counts_in_vendor_quota_before_mapping() -> None:
    """The vendor quota is checked before the adapter: over it, even garbage costs no parsing."""
    pipeline = make(vendor_quota=VendorQuota(rate=1.0, burst=1))
    assert route(pipeline, SALE_TOPIC, native_sale()).kind == "event"
    routed = route(pipeline, SALE_TOPIC, b"not json")
    assert routed.reason is RejectReason.RATE_LIMITED


def test_route_adapted_bad_device_id_is_bad_topic() -> None:
    """The device id level of an adapted topic follows the platform's device id grammar."""
    routed = route(make(), "city/vending/acme/VM 1/data", native_sale())
    assert routed.reason is RejectReason.BAD_TOPIC


def test_pipeline_refuses_adapters_of_another_prefix() -> None:
    """Adapters loaded for another topic prefix would never match: refused at construction."""
    with pytest.raises(ValueError, match="adapters match prefix 'city', topics use 'staging'"):
        make(prefix="staging")
