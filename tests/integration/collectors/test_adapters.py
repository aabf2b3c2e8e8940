"""Payload adapters on the real chain: a vendor's own JSON, published on its own topic over
MQTT, reaches the events topic as a valid platform envelope recording the adapter."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from collector_helpers import Publisher, TopicReader, running, with_collector

from core.settings import Settings
from schemas import DeadLetter, Envelope, VendingSale, VendingTelemetry

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "adapters" / "examples"
VM = "VM-330203-0101"
REGISTRY_CSV = f"""\
device_id,facility,vendor,district_adcode,lat,lon,asset_type,expected_interval_s
{VM},vending,acme,330203,29.8683,121.5440,,300
"""


def test_collector_maps_native_payloads_with_adapter(
    collector_settings: Settings,
    publisher: Publisher,
    read_topic: Callable[[str], TopicReader],
    tmp_path: Path,
) -> None:
    """acme's native sale and state (epoch seconds, yuan, its own codes) become enriched
    envelopes with source_format adapter:acme-v2; a payment code its adapter does not know is
    dead-lettered invalid_field naming the native field, with the native bytes."""
    registry = tmp_path / "registry.csv"
    registry.write_text(REGISTRY_CSV)
    settings = with_collector(collector_settings, adapters_dir=EXAMPLES).model_copy(
        update={"registry_path": registry}
    )
    p = settings.mqtt.topic_prefix
    now = int(time.time())
    item = {"code": "6901939621608", "cat": "drink", "qty": 2, "lane": "B1"}
    sale = {"t": now, "n": 1, "order": 7, "price_yuan": 7, "pay": "WX", "status": 0, "item": item}
    state = {
        "t": now,
        "n": 2,
        "env": {"temp": 5.04},
        "door": "0",
        "stock": {"left": 10, "capacity": 40},
    }
    bad = {**sale, "n": 3, "pay": "PAYPAL"}
    messages = [
        (f"{p}/vending/acme/{VM}/data", json.dumps(sale).encode()),
        (f"{p}/vending/acme/{VM}/state", json.dumps(state).encode()),
        (f"{p}/vending/acme/{VM}/data", json.dumps(bad).encode()),
    ]
    with running(settings):
        publisher.publish_all(messages)
        events = read_topic(settings.kafka.events_topic)
        dead = read_topic(settings.kafka.deadletter_topic)
        events.read_until(2)
        dead.read_until(1)
        events.drain()
        dead.drain()

    envelopes = sorted(
        (Envelope.model_validate_json(v) for _, v in events.records), key=lambda e: e.seq or 0
    )
    assert [(e.device_id, e.channel.value, e.seq) for e in envelopes] == [
        (VM, "event", 1),
        (VM, "telemetry", 2),
    ]
    assert {e.source_format for e in envelopes} == {"adapter:acme-v2"}
    sale_env, state_env = envelopes
    assert sale_env.ts_ms == now * 1000
    assert isinstance(sale_env.body, VendingSale)
    assert (sale_env.body.amount_fen, sale_env.body.payment, sale_env.body.category) == (
        700,
        "wechat",
        "soft_drink",
    )
    assert isinstance(state_env.body, VendingTelemetry)
    assert (state_env.body.temperature_c, state_env.body.stock_pct) == (5.0, 25.0)
    assert sale_env.enrichment is not None
    assert (sale_env.enrichment.vendor, sale_env.enrichment.district_adcode) == ("acme", "330203")

    (letter,) = (DeadLetter.model_validate_json(v) for _, v in dead.records)
    assert (letter.reason, letter.field, letter.device_id) == ("invalid_field", "pay", VM)
    assert letter.topic == f"{p}/vending/acme/{VM}/data"
    assert letter.payload == json.dumps(bad).encode()
