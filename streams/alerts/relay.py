"""The notifier as a service: city.alerts.v1 → :class:`Notifier` → webhooks, at least once.

Program ``cityiot alerts run``. A Kafka consumer of its own group (``CITYIOT_ALERT_NOTIFIER_GROUP``)
reads alert changes a fetch at a time, hands each to the notifier, waits until every one is
delivered or dead-lettered (``Notifier.join``), and only then commits the fetch's offsets. A crash
before the commit sends the fetch again: at least once, and receivers drop repeats by the
``Idempotency-Key`` header. Changes repeated on the topic (a streams worker replaying a batch after
a crash produces them again, identical) are dropped here too while their key is remembered
(:data:`RECENT_KEYS`), so a receiver normally sees each change once.

The streams workers do not deliver webhooks themselves: a retry schedule of minutes would hold
a batch (and its partitions) hostage, and delivery would stop whenever a worker rebalances. A
separate process keeps delivery and its backoff away from the hot path and scales on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from pydantic import ValidationError

from core.settings.alert import WebhookEndpoint
from schemas.alert import Alert
from streams.alerts.webhooks.notifier import DeadLetterSink, DeliveryLog, Notifier

__all__ = ["RECENT_KEYS", "RecentKeys", "relay"]

log = logging.getLogger("cityiot.streams.alerts.relay")

# Idempotency keys remembered to drop repeated changes; far more than a replayed batch holds.
RECENT_KEYS = 100_000
# Changes per fetch: one Notifier.join (and one commit) per fetch.
FETCH_MAX = 500


class RecentKeys:
    """A bounded set of the most recent keys (oldest forgotten first)."""

    def __init__(self, size: int = RECENT_KEYS) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """Remember ``key``; False when it was already remembered."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return True


async def relay(
    *,
    bootstrap_servers: str,
    topic: str,
    group: str,
    endpoints: Sequence[WebhookEndpoint],
    dead_letter: DeadLetterSink,
    delivery_log: DeliveryLog | None = None,
    stop: asyncio.Event,
    security: Mapping[str, Any] | None = None,
) -> int:
    """Deliver the topic's alert changes until ``stop`` is set; returns how many were submitted.

    ``stop`` is checked between fetches: a fetch in delivery is finished (and committed) first.
    ``security``: aiokafka's security arguments (``KafkaSettings.aiokafka_security()``).
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(security or {}),
    )
    await consumer.start()
    recent = RecentKeys()
    submitted = 0
    try:
        async with Notifier(endpoints, dead_letter=dead_letter, delivery_log=delivery_log) as ntf:
            while not stop.is_set():
                fetched = await consumer.getmany(timeout_ms=1000, max_records=FETCH_MAX)
                if not fetched:
                    continue
                for records in fetched.values():
                    for record in records:
                        alert = _decode(record.value, record.partition, record.offset)
                        if alert is not None and recent.add(alert.idempotency_key):
                            ntf.submit(alert)
                            submitted += 1
                await ntf.join()
                await consumer.commit()
    finally:
        await consumer.stop()
    return submitted


def _decode(value: bytes | None, partition: int, offset: int) -> Alert | None:
    """The alert of a record; None (logged, skipped) for a record that is not one."""
    try:
        return Alert.model_validate_json(value or b"")
    except ValidationError as exc:
        log.error(
            "alert record skipped partition=%d offset=%d error=%r",
            partition,
            offset,
            str(exc.errors(include_input=False)[0]["msg"]),
        )
        return None
