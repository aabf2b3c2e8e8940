"""``cityiot alerts run``'s relay against the real broker and a real HTTP receiver: each change
delivered once, repeats and junk dropped, offsets committed only after delivery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from http_receiver import receiver
from tests_support import async_eventually

from core.settings import Settings
from core.settings.alert import WebhookEndpoint
from schemas.alert import Alert
from streams.alerts.relay import relay
from streams.alerts.webhooks.notifier import JsonLinesDeadLetter

pytestmark = pytest.mark.integration

STARTS = datetime(2025, 5, 1, 2, 40, tzinfo=UTC)
# A cold consumer group joins in a few seconds on Tansu (FACTS.md); the machine is shared.
DELIVERY_TIMEOUT_S = 60.0


def _alert(status: str) -> Alert:
    return Alert.model_validate(
        {
            "status": status,
            "fingerprint": "00000000000000aa",
            "rule": "vending-fridge-too-warm",
            "rule_type": "threshold",
            "severity": "warning",
            "device_id": "VM-1",
            "labels": {"alertname": "vending-fridge-too-warm", "severity": "warning"},
            "summary_zh": "售货机 VM-1 冷藏温度过高",
            "summary_en": "Vending machine VM-1 too warm",
            "starts_at": STARTS,
            "ends_at": STARTS + timedelta(minutes=20) if status == "resolved" else None,
        }
    )


def _produce(settings: Settings, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "acks": "all"})
    for value in values:
        producer.produce(settings.kafka.alerts_topic, key=b"00000000000000aa", value=value)
    assert producer.flush(30) == 0


def _committed(settings: Settings, group: str) -> int:
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": group})
    topic = settings.kafka.alerts_topic
    try:
        partitions = consumer.list_topics(topic, timeout=20).topics[topic].partitions
        tps = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=20)
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        consumer.close()


def test_relay_delivers_each_change_once_then_commits(settings: Settings, tmp_path: Path) -> None:
    """Firing, a replayed firing, junk, resolved → two requests in order, four offsets committed."""
    firing, resolved = _alert("firing"), _alert("resolved")
    values = [firing.model_dump_json().encode()] * 2 + [
        b"junk",
        resolved.model_dump_json().encode(),
    ]
    # One key: one partition, so the records keep their order.
    _produce(settings, values)
    group = f"notifier-{settings.kafka.alerts_topic}"

    async def main() -> list[str]:
        async with receiver({}) as rec:
            endpoint = WebhookEndpoint.model_validate(
                {"name": "ops", "url": rec.url("/hook"), "secret": "s"}
            )
            stop = asyncio.Event()
            task = asyncio.create_task(
                relay(
                    bootstrap_servers=settings.kafka.bootstrap_servers,
                    topic=settings.kafka.alerts_topic,
                    group=group,
                    endpoints=[endpoint],
                    dead_letter=JsonLinesDeadLetter(tmp_path / "dead.jsonl"),
                    stop=stop,
                )
            )
            await async_eventually(
                lambda: len(rec.requests) >= 2,
                what="the firing and the resolved change delivered",
                timeout=DELIVERY_TIMEOUT_S,
            )
            stop.set()
            assert await asyncio.wait_for(task, DELIVERY_TIMEOUT_S) == 2
            return [r.headers["Idempotency-Key"] for r in rec.requests]

    keys = asyncio.run(main())
    assert keys == [firing.idempotency_key, resolved.idempotency_key]
    assert _committed(settings, group) == len(values)
    assert not (tmp_path / "dead.jsonl").exists()
