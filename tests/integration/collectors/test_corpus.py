"""A corpus of good and bad device messages lands exactly in the events and dead-letter topics."""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from collector_helpers import (
    REGISTRY_CSV,
    Publisher,
    now_ts,
    payload,
    running,
    with_collector,
)
from paho.mqtt.enums import CallbackAPIVersion
from tests_support import eventually

from cityiot.local.ports import free_port
from core.settings import Settings
from schemas import DistrictIndex, Envelope

pytestmark = pytest.mark.integration

FLOODER = "VM-330203-0099"
FLOOD_BURST = 20
FLOOD_SENT = 30
MAX_BYTES = 1024
OLD_TS = "2021-01-01T00:00:00Z"


def nmea_gga(lat: float, lon: float) -> bytes:
    """A GGA sentence with a valid checksum, fixed now (the date comes from the receive time)."""
    t = datetime.now(UTC)
    lat_s = f"{int(lat):02d}{(lat % 1) * 60:07.4f}"
    lon_s = f"{int(lon):03d}{(lon % 1) * 60:07.4f}"
    body = f"GNGGA,{t:%H%M%S}.000,{lat_s},N,{lon_s},E,1,12,0.8,12.0,M,0.0,M,,"
    checksum = reduce(lambda acc, ch: acc ^ ord(ch), body, 0)
    return f"${body}*{checksum:02X}\r\n".encode()


def test_collector_corpus_lands_exactly(
    collector_settings: Settings, tmp_path: Path, publisher: Publisher, read_topic
) -> None:
    """Each good message becomes one enriched event, each bad one a dead letter with its reason."""
    registry = tmp_path / "registry.csv"
    registry.write_text(REGISTRY_CSV + f"{FLOODER},vending,ubox,330203,29.8700,121.5500,,300\n")
    metrics_port = free_port()
    settings = with_collector(
        collector_settings.model_copy(update={"registry_path": registry}),
        rate_limit_per_s=0.001,
        rate_limit_burst=FLOOD_BURST,
        max_payload_bytes=MAX_BYTES,
        metrics_port=metrics_port,
    )
    p = settings.mqtt.topic_prefix
    vm, rs, eb = "VM-330203-0001", "RS-330212-0007", "EB-0042817"
    good: list[tuple[str, bytes]] = [
        (f"{p}/vending/ubox/{vm}/event", payload("vending_sale", 1)),
        (f"{p}/vending/ubox/{vm}/telemetry", payload("vending_telemetry", 2)),
        (f"{p}/vending/ubox/{vm}/status", payload("device_status", 3)),
        (f"{p}/recycling/dabashou/{rs}/event", payload("recycling_dropoff", 1)),
        (f"{p}/recycling/dabashou/{rs}/telemetry", payload("recycling_telemetry", 2)),
        (f"{p}/mobility/hellobike/{eb}/position", payload("mobility_position", 1)),
        (f"{p}/mobility/hellobike/{eb}/telemetry", payload("mobility_telemetry", 2)),
        (f"{p}/mobility/hellobike/{eb}/position", nmea_gga(29.8716, 121.5487)),
    ]
    good += [
        (f"{p}/vending/ubox/{FLOODER}/telemetry", payload("vending_telemetry", seq))
        for seq in range(FLOOD_SENT)
    ]
    bad: list[tuple[str, bytes, str]] = [
        (f"{p}/vending/ubox", b"{}", "bad_topic"),
        (f"{p}/bogus/ubox/X1/event", payload("vending_sale", 1), "bad_topic"),
        (f"{p}/vending/ubox/{vm}/position", payload("mobility_position", 9), "unknown_channel"),
        (f"{p}/vending/ubox/{vm}/telemetry", b" " * (MAX_BYTES + 1), "too_large"),
        (f"{p}/vending/ubox/{vm}/telemetry", b"\xff\xfe{}", "bad_encoding"),
        (f"{p}/vending/ubox/{vm}/telemetry", b"{not json", "bad_json"),
        (
            f"{p}/vending/ubox/{vm}/event",
            payload("vending_sale", 5, payment="bitcoin"),
            "invalid_field",
        ),
        (
            f"{p}/vending/ubox/{vm}/event",
            payload("vending_sale", 6, ts="2021-01-01T00:00:00Z"),
            "stale_timestamp",
        ),
        (f"{p}/mobility/hellobike/{eb}/position", b"$GNGGA,garbage*00\r\n", "bad_nmea"),
        (f"{p}/vending/ubox/VM-999/event", payload("vending_sale", 1), "unknown_device"),
        # Another vendor's user writing a sale into ubox's machine; the machine under recycling.
        (f"{p}/vending/dabashou/{vm}/event", payload("vending_sale", 9), "wrong_vendor"),
        (f"{p}/recycling/ubox/{vm}/event", payload("recycling_dropoff", 9), "wrong_facility"),
    ]
    will_topic = f"{p}/vending/ubox/{vm}/status"
    will = json.dumps({"ts": now_ts(), "seq": 4, "state": "offline", "reason": "connection_lost"})

    with running(settings) as collector:
        publisher.publish_all([*good, *((t, b) for t, b, _ in bad)])
        # A device that drops off: the broker publishes its last will on the status channel.
        device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=vm, protocol=mqtt.MQTTv5)
        device.will_set(will_topic, will.encode(), qos=1)
        device.connect("127.0.0.1", settings.mqtt.port)
        device.loop(2)
        device.socket().close()  # no DISCONNECT: the broker sees a lost connection
        n_events = len(good) + 1 - (FLOOD_SENT - FLOOD_BURST)
        n_dead = len(bad) + FLOOD_SENT - FLOOD_BURST
        events_reader = read_topic(settings.kafka.events_topic)
        dead_reader = read_topic(settings.kafka.deadletter_topic)
        events_reader.read_until(n_events)
        dead_reader.read_until(n_dead)
        eventually(lambda: collector.stats.acked == n_events + n_dead, what="all acked")
        # Nothing extra either: no duplicates and no stray records in a clean run.
        events, dead = events_reader.drain(), dead_reader.drain()
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()

    envelopes = [Envelope.model_validate_json(v) for _, v in events]
    assert len(envelopes) == n_events
    assert all(k.decode() == e.device_id for (k, _), e in zip(events, envelopes, strict=True))
    by_kind = {(e.device_id, e.body.kind, e.source_format) for e in envelopes}
    assert (vm, "device_status", "json") in by_kind
    assert (eb, "mobility_position", "nmea") in by_kind
    assert sum(e.device_id == FLOODER for e in envelopes) == FLOOD_BURST
    statuses = [e for e in envelopes if e.body.kind == "device_status" and e.device_id == vm]
    assert sorted(s.body.state for s in statuses) == ["offline", "online"]  # type: ignore[union-attr]

    for e in envelopes:
        assert e.enrichment is not None, e.device_id
        if e.device_id in (vm, FLOODER):
            assert (e.enrichment.district_adcode, e.enrichment.vendor) == ("330203", "ubox")
            assert e.enrichment.lat is not None
        elif e.device_id == rs:
            assert e.enrichment.district_name == "鄞州区"
        elif e.body.kind == "mobility_position":
            located = DistrictIndex.load().locate(e.body.lat, e.body.lon)  # type: ignore[union-attr]
            assert located is not None
            assert e.enrichment.district_adcode == located.adcode
            assert e.enrichment.asset_type == "ebike"
        else:  # mobile telemetry carries no position: it counts in the home district
            assert e.enrichment.district_adcode == "330212"
            assert e.enrichment.asset_type == "ebike"

    letters = [json.loads(v) for _, v in dead]
    assert len(letters) == n_dead
    got = sorted((d["topic"], base64.b64decode(d["payload_b64"]), d["reason"]) for d in letters)
    flood = [(t, b, "rate_limited") for t, b in good if FLOODER in t]
    # The flooder's last messages over the burst are the ones cut (its bucket never refills).
    assert got == sorted([*bad, *flood[FLOOD_BURST:]])
    for (key, _), d in zip(dead, letters, strict=True):
        assert d["collector_id"] == settings.collector.client_id
        assert key.decode() == (d["device_id"] or d["topic"])
        assert d["payload_size"] == len(base64.b64decode(d["payload_b64"]))

    assert 'cityiot_collector_rejected_total{reason="rate_limited"} 10.0' in metrics
    assert f"cityiot_collector_messages_acked_total {n_events + n_dead}.0" in metrics
