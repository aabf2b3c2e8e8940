"""Topic grammar: city/{facility}/{vendor}/{device_id}/{channel}."""

from __future__ import annotations

import pytest

from schemas import Channel, Facility, Rejected, RejectReason, parse_topic
from schemas.topic import CHANNELS_BY_FACILITY


def test_parse_topic_valid_returns_parts() -> None:
    """A well-formed topic yields each level, typed."""
    topic = parse_topic("city/vending/nbvend/VM-330203-0001/event")
    assert topic.prefix == "city"
    assert topic.facility is Facility.VENDING
    assert topic.vendor == "nbvend"
    assert topic.device_id == "VM-330203-0001"
    assert topic.channel is Channel.EVENT
    assert str(topic) == "city/vending/nbvend/VM-330203-0001/event"


def test_parse_topic_custom_prefix_accepted() -> None:
    """The first level is a setting, not a constant."""
    assert parse_topic("nb/mobility/v1/b.1_x-2/position", prefix="nb").device_id == "b.1_x-2"


@pytest.mark.parametrize(
    "topic",
    [
        "city/vending/nbvend/VM1",
        "city/vending/nbvend/VM1/event/extra",
        "/city/vending/nbvend/VM1/event",
        "town/vending/nbvend/VM1/event",
        "city/laundry/nbvend/VM1/event",
        "city/vending/NBVend/VM1/event",
        "city/vending/-nbvend/VM1/event",
        "city/vending/" + "v" * 33 + "/VM1/event",
        "city/vending/nbvend/VM 1/event",
        "city/vending/nbvend//event",
        "city/vending/nbvend/" + "d" * 65 + "/event",
        "city/vending/nbvend/设备1/event",
        "city/vending/nbvend/+/event",
        "",
    ],
    ids=[
        "four-levels",
        "six-levels",
        "leading-slash",
        "wrong-prefix",
        "unknown-facility",
        "uppercase-vendor",
        "vendor-leading-dash",
        "vendor-too-long",
        "space-in-device",
        "empty-device",
        "device-too-long",
        "non-ascii-device",
        "wildcard-device",
        "empty",
    ],
)
def test_parse_topic_bad_structure_is_bad_topic(topic: str) -> None:
    """Anything outside the grammar is rejected as bad_topic."""
    with pytest.raises(Rejected) as info:
        parse_topic(topic)
    assert info.value.reason is RejectReason.BAD_TOPIC


@pytest.mark.parametrize(
    "topic",
    [
        "city/vending/nbvend/VM1/position",
        "city/recycling/greenbox/RS1/position",
        "city/mobility/citybike/EB1/event",
        "city/vending/nbvend/VM1/gate",
        "city/transit/nbmetro/TV1/gate",
        "city/store/bingobox/ST1/position",
        "city/vending/nbvend/VM1/telemetryx",
        "city/vending/nbvend/VM1/Status",
    ],
)
def test_parse_topic_channel_not_of_facility_is_unknown_channel(topic: str) -> None:
    """A fifth level that is not a channel of that facility is unknown_channel."""
    with pytest.raises(Rejected) as info:
        parse_topic(topic)
    assert info.value.reason is RejectReason.UNKNOWN_CHANNEL


def test_parse_topic_channel_table_matches_design() -> None:
    """Channels per facility are exactly those DESIGN.md lists."""
    assert {f.value: sorted(c.value for c in cs) for f, cs in CHANNELS_BY_FACILITY.items()} == {
        "vending": ["event", "status", "telemetry"],
        "recycling": ["event", "status", "telemetry"],
        "mobility": ["position", "status", "telemetry"],
        "store": ["event", "gate", "status", "telemetry"],
        "transit": ["event", "status", "telemetry"],
    }


def test_parse_topic_result_is_frozen() -> None:
    """A parsed topic cannot be mutated (it is cached and shared)."""
    topic = parse_topic("city/vending/nbvend/VM1/event")
    with pytest.raises(ValueError, match="frozen"):
        topic.vendor = "other"  # type: ignore[misc]


def test_parse_topic_equals_fully_validated_topic() -> None:
    """The fast construction path yields exactly what validation would."""
    from schemas import Topic

    topic = parse_topic("city/recycling/greenbox/RS-1/telemetry")
    assert Topic.model_validate(topic.model_dump()) == topic
    assert Topic.model_validate_json(topic.model_dump_json()) == topic
