"""The pure pipeline: decode → enrich → route, with dead letters for every reject."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import shapely

from collectors.pipeline import Inbound, Pipeline
from collectors.ratelimit import TokenBuckets, VendorQuota
from schemas import DeadLetter, DeviceRecord, DistrictIndex, Envelope, Registry, decode
from schemas.examples import EXAMPLES
from schemas.ningbo import DISTRICTS_BY_ADCODE

NOW = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)
VM, EB = "VM-330203-0001", "EB-0042817"
REGISTRY = Registry(
    [
        DeviceRecord(
            device_id=VM,
            facility="vending",
            vendor="ubox",
            district_adcode="330203",
            lat=29.87,
            lon=121.54,
            expected_interval_s=300,
        ),
        DeviceRecord(
            device_id=EB,
            facility="mobility",
            vendor="hellobike",
            district_adcode="330212",
            asset_type="ebike",
            expected_interval_s=30,
        ),
    ]
)
# A synthetic Yinzhou: a box around the example fix (unit tests need no boundary package).
DISTRICTS = DistrictIndex([(DISTRICTS_BY_ADCODE["330212"], shapely.box(121.5, 29.8, 121.6, 29.9))])


def wire(example: str, **changes: object) -> bytes:
    return json.dumps({**EXAMPLES[example], "ts": NOW.isoformat(), **changes}).encode()


def inbound(topic: str, payload: bytes, monotonic: float = 0.0) -> Inbound:
    return Inbound(topic, payload, NOW, monotonic)


def make(**overrides: object) -> Pipeline:
    options: dict[str, object] = {
        "collector_id": "c1",
        "registry": REGISTRY,
        "districts": DISTRICTS,
        "max_payload_bytes": 2048,
        **overrides,
    }
    return Pipeline(**options)  # type: ignore[arg-type]


def test_route_fixed_device_event_is_enriched_from_registry() -> None:
    """A registered vending machine's sale becomes an event keyed by device with its district."""
    routed = make().route(inbound(f"city/vending/ubox/{VM}/event", wire("vending_sale")))
    assert (routed.kind, routed.key, routed.reason) == ("event", VM.encode(), None)
    envelope = Envelope.model_validate_json(routed.value)
    assert envelope.enrichment is not None
    assert envelope.enrichment.district_adcode == "330203"
    assert envelope.enrichment.district_name_en == "Haishu District"
    assert (envelope.enrichment.lat, envelope.enrichment.vendor) == (29.87, "ubox")


def test_route_mobile_position_is_located() -> None:
    """A mobile fix takes the district it lies in, not the registry's home district."""
    routed = make().route(
        inbound(f"city/mobility/hellobike/{EB}/position", wire("mobility_position"))
    )
    envelope = Envelope.model_validate_json(routed.value)
    assert envelope.enrichment is not None
    assert envelope.enrichment.district_adcode == "330212"
    assert envelope.enrichment.asset_type == "ebike"
    outside = wire("mobility_position", lat=30.5, lon=122.5)
    routed = make().route(inbound(f"city/mobility/hellobike/{EB}/position", outside))
    enrichment = Envelope.model_validate_json(routed.value).enrichment
    assert enrichment is not None
    assert enrichment.district_adcode is None


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "field"),
    [
        ("city/vending/ubox", b"{}", "bad_topic", None),
        (f"city/vending/ubox/{VM}/position", wire("mobility_position"), "unknown_channel", None),
        (f"city/vending/ubox/{VM}/event", b"x" * 2049, "too_large", None),
        (f"city/vending/ubox/{VM}/event", b"\xff{}", "bad_encoding", None),
        (f"city/vending/ubox/{VM}/event", b"{nope", "bad_json", None),
        (
            f"city/vending/ubox/{VM}/event",
            wire("vending_sale", amount_fen=-1),
            "invalid_field",
            "amount_fen",
        ),
        (
            f"city/vending/ubox/{VM}/event",
            wire("vending_sale", ts="2020-01-01T00:00:00Z"),
            "stale_timestamp",
            "ts",
        ),
        (f"city/mobility/hellobike/{EB}/position", b"$GNGGA,x*00", "bad_nmea", None),
        ("city/vending/ubox/VM-404/event", wire("vending_sale"), "unknown_device", None),
    ],
    ids=lambda v: v if isinstance(v, str) and "/" not in v and len(v) < 20 else "",
)
def test_route_rejects_become_dead_letters(
    topic: str, payload: bytes, reason: str, field: str | None
) -> None:
    """Each reject reason yields a dead letter with the raw payload, topic and collector id."""
    routed = make().route(inbound(topic, payload))
    assert (routed.kind, routed.reason) == ("deadletter", reason)
    letter = DeadLetter.model_validate_json(routed.value)
    assert (letter.reason, letter.topic, letter.collector_id) == (reason, topic, "c1")
    assert letter.payload == payload
    assert letter.payload_size == len(payload)
    assert letter.received_at == NOW
    if field is not None:
        assert letter.field == field
    assert routed.key == (letter.device_id or topic).encode()


def test_route_unknown_device_accepted_by_setting() -> None:
    """With unknown_devices='accept' an unregistered device's message is forwarded unenriched."""
    routed = make(unknown_devices="accept", registry=None).route(
        inbound("city/vending/ubox/VM-404/event", wire("vending_sale"))
    )
    assert routed.kind == "event"
    assert Envelope.model_validate_json(routed.value).enrichment is None


def test_route_rate_limit_cuts_only_the_flooding_device() -> None:
    """Past its burst a device is dead-lettered as rate_limited while another still passes."""
    pipeline = make(limiter=TokenBuckets(rate=1.0, burst=3))
    flood = [
        pipeline.route(inbound(f"city/vending/ubox/{VM}/telemetry", wire("vending_telemetry"), 0.0))
        for _ in range(5)
    ]
    assert [r.reason for r in flood] == [None, None, None, "rate_limited", "rate_limited"]
    other = pipeline.route(
        inbound(f"city/mobility/hellobike/{EB}/telemetry", wire("mobility_telemetry"))
    )
    assert other.kind == "event"
    later = pipeline.route(
        inbound(f"city/vending/ubox/{VM}/telemetry", wire("vending_telemetry"), 1.0)
    )
    assert later.kind == "event"


def test_route_other_vendors_device_is_wrong_vendor_and_never_an_event() -> None:
    """A sale on a device registered to ubox, under another vendor's slug, is dead-lettered
    wrong_vendor; the registered vendor is not disclosed to the sender."""
    routed = make().route(
        inbound(f"city/vending/avend/{VM}/event", wire("vending_sale", amount_fen=99_999))
    )
    assert (routed.kind, routed.reason) == ("deadletter", "wrong_vendor")
    letter = DeadLetter.model_validate_json(routed.value)
    assert (letter.device_id, letter.topic) == (VM, f"city/vending/avend/{VM}/event")
    assert "ubox" not in letter.detail
    assert routed.key == VM.encode()


def test_route_device_under_another_facility_is_wrong_facility() -> None:
    """A registered vending machine's id under the recycling tree is dead-lettered, even with a
    payload that is a valid drop-off."""
    routed = make().route(inbound(f"city/recycling/ubox/{VM}/event", wire("recycling_dropoff")))
    assert (routed.kind, routed.reason) == ("deadletter", "wrong_facility")
    assert "vending" in DeadLetter.model_validate_json(routed.value).detail


def test_route_binding_checked_before_the_device_rate_limit() -> None:
    """Another vendor's flood on a device does not drain that device's own bucket."""
    pipeline = make(limiter=TokenBuckets(rate=1.0, burst=2))
    spoofed = [
        pipeline.route(inbound(f"city/vending/avend/{VM}/telemetry", wire("vending_telemetry")))
        for _ in range(5)
    ]
    assert {r.reason for r in spoofed} == {"wrong_vendor"}
    own = pipeline.route(inbound(f"city/vending/ubox/{VM}/telemetry", wire("vending_telemetry")))
    assert own.kind == "event"


def test_route_unknown_device_accepted_is_bound_to_no_vendor() -> None:
    """With unknown devices accepted, an unregistered id under any slug passes unenriched."""
    pipeline = make(unknown_devices="accept")
    for vendor in ("avend", "bvend"):
        routed = pipeline.route(
            inbound(f"city/vending/{vendor}/VM-NEW-1/event", wire("vending_sale"))
        )
        assert routed.kind == "event"
        assert Envelope.model_validate_json(routed.value).enrichment is None


def test_route_vendor_quota_cuts_only_the_flooding_vendor() -> None:
    """A vendor over its quota is dead-lettered rate_limited, naming the vendor, while another
    vendor's device still passes; its unknown device ids count against the same quota."""
    pipeline = make(vendor_quota=VendorQuota(rate=1.0, burst=3))
    flood = [
        pipeline.route(inbound(f"city/vending/ubox/VM-FLOOD-{i}/event", wire("vending_sale")))
        for i in range(5)
    ]
    assert [r.reason for r in flood] == [
        "unknown_device",
        "unknown_device",
        "unknown_device",
        "rate_limited",
        "rate_limited",
    ]
    assert "vendor 'ubox'" in DeadLetter.model_validate_json(flood[-1].value).detail
    over = pipeline.route(inbound(f"city/vending/ubox/{VM}/event", wire("vending_sale")))
    assert over.reason == "rate_limited"
    other = pipeline.route(
        inbound(f"city/mobility/hellobike/{EB}/telemetry", wire("mobility_telemetry"))
    )
    assert other.kind == "event"
    later = pipeline.route(inbound(f"city/vending/ubox/{VM}/event", wire("vending_sale"), 1.0))
    assert later.kind == "event"


def test_dead_letter_readme_example_is_what_the_pipeline_writes() -> None:
    """collectors/README.md's dead letter is a valid record with the keys the pipeline writes."""
    readme = (Path(__file__).resolve().parents[3] / "collectors" / "README.md").read_text()
    block = re.search(r"A dead letter \(`city\.deadletter\.v1`.*?```json\n(.*?)\n```", readme, re.S)
    assert block is not None
    example = json.loads(block[1])
    letter = DeadLetter.model_validate(example)
    assert (letter.source, letter.payload) == ("collector", b"{not json")
    routed = make().route(inbound(f"city/vending/ubox/{VM}/telemetry", b"{not json"))
    assert set(json.loads(routed.value)) == set(example)


def test_dead_letter_truncates_huge_payloads() -> None:
    """A payload over the dead-letter limit keeps its first bytes and says so."""
    routed = make(deadletter_payload_limit=10).route(
        inbound(f"city/vending/ubox/{VM}/event", b"y" * 5000)
    )
    letter = DeadLetter.model_validate_json(routed.value)
    assert (letter.reason, letter.payload, letter.payload_size) == ("too_large", b"y" * 10, 5000)
    assert letter.payload_truncated


def test_route_status_on_every_facility() -> None:
    """Status messages (and last wills, which arrive as ordinary status messages) are events."""
    old_will = wire("device_status", ts=(NOW - timedelta(days=30)).isoformat(), state="offline")
    routed = make().route(inbound(f"city/vending/ubox/{VM}/status", old_will))
    assert routed.kind == "event"
    assert Envelope.model_validate_json(routed.value).body.kind == "device_status"


@pytest.mark.parametrize(
    ("topic", "example"),
    [
        (f"city/vending/ubox/{VM}/telemetry", "vending_telemetry"),
        (f"city/mobility/hellobike/{EB}/position", "mobility_position"),
    ],
    ids=["fixed", "mobile"],
)
def test_enrich_equals_model_copy(topic: str, example: str) -> None:
    """The enriched envelope and its JSON are what model_copy(update=...) would give."""
    pipeline = make()
    plain = decode(topic, wire(example), received_at=NOW)
    enriched = pipeline.enrich(plain)
    assert enriched.enrichment is not None
    expected = plain.model_copy(update={"enrichment": enriched.enrichment})
    assert enriched == expected
    assert enriched.model_dump_json() == expected.model_dump_json()
    assert Envelope.model_validate_json(enriched.model_dump_json()) == enriched


def test_pipeline_dead_letter_carries_the_redelivered_flag() -> None:
    """A message the broker sent again (DUP) is marked so, for counting it once."""
    from datetime import UTC, datetime

    from collectors.pipeline import Inbound, Pipeline
    from schemas import DeadLetter

    pipeline = Pipeline(collector_id="c1", registry=None, districts=None)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    for flag in (False, True):
        routed = pipeline.route(Inbound("city/vending/ubox/VM-1/telemetry", b"{", now, 0.0, flag))
        assert routed.kind == "deadletter"
        assert DeadLetter.model_validate_json(routed.value).redelivered is flag
