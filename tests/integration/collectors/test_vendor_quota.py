"""Per-vendor quotas on the real chain: one vendor flooding with new device ids is cut at its
quota, its excess dead-lettered naming it, while another vendor's messages all pass."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from collector_helpers import Publisher, TopicReader, payload, running, with_collector

from core.settings import Settings
from schemas import DeadLetter, Envelope

pytestmark = pytest.mark.integration

QUOTA_BURST = 100
FLOOD = 400  # one message from each of 400 device ids the registry has never seen
OTHERS = 60


def test_vendor_over_quota_is_dead_lettered_and_others_pass(
    collector_settings: Settings,
    publisher: Publisher,
    read_topic: Callable[[str], TopicReader],
) -> None:
    """ubox floods 400 new device ids past a quota of 100 (refilling at 1 per 1,000 s): 100 pass,
    300 are rate_limited naming ubox; hellobike's 60 messages, sent after, all pass."""
    settings = with_collector(
        collector_settings,
        unknown_devices="accept",
        vendor_rate_limit_per_s=0.001,
        vendor_rate_limit_burst=QUOTA_BURST,
    )
    p = settings.mqtt.topic_prefix
    flood = [
        (f"{p}/vending/ubox/VM-NEW-{i:04d}/telemetry", payload("vending_telemetry", 1))
        for i in range(FLOOD)
    ]
    others = [
        (f"{p}/mobility/hellobike/EB-0042817/telemetry", payload("mobility_telemetry", seq))
        for seq in range(OTHERS)
    ]
    with running(settings) as collector:
        publisher.publish_all([*flood, *others])
        events = read_topic(settings.kafka.events_topic)
        dead = read_topic(settings.kafka.deadletter_topic)
        events.read_until(QUOTA_BURST + OTHERS)
        dead.read_until(FLOOD - QUOTA_BURST)
        events.drain()
        dead.drain()
        assert collector.stats.received == FLOOD + OTHERS

    envelopes = [Envelope.model_validate_json(v) for _, v in events.records]
    by_vendor = {v: sum(e.vendor == v for e in envelopes) for v in ("ubox", "hellobike")}
    assert by_vendor == {"ubox": QUOTA_BURST, "hellobike": OTHERS}
    letters = [DeadLetter.model_validate_json(v) for _, v in dead.records]
    assert len(letters) == FLOOD - QUOTA_BURST
    assert {letter.reason for letter in letters} == {"rate_limited"}
    assert all("vendor 'ubox'" in letter.detail for letter in letters)
