"""Send a test alert to endpoints (``cityiot alerts notify``), to check URLs and secrets."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.settings.alert import WebhookEndpoint
from schemas.alert import Alert, Severity
from streams.alerts.state import fingerprint
from streams.alerts.webhooks.notifier import (
    DeliveryRecord,
    JsonLinesDeadLetter,
    JsonLinesDeliveryLog,
    Notifier,
)

__all__ = ["sample_alert", "send_test"]


def sample_alert(status: str, now: datetime) -> Alert:
    """A clearly labelled test alert (rule ``cityiot-test``), firing or resolved."""
    starts = now - timedelta(minutes=1) if status == "resolved" else now
    return Alert.model_validate(
        {
            "status": status,
            "fingerprint": fingerprint("cityiot-test", {"device_id": "TEST-0001"}),
            "rule": "cityiot-test",
            "rule_type": "test",
            "severity": Severity.INFO,
            "device_id": "TEST-0001",
            "labels": {"alertname": "cityiot-test", "severity": "info", "device_id": "TEST-0001"},
            "summary_zh": "cityiot 测试告警，请忽略",
            "summary_en": "cityiot test alert, please ignore",
            "starts_at": starts,
            "ends_at": now if status == "resolved" else None,
        }
    )


class _Collect(JsonLinesDeliveryLog):
    def __init__(self, path: Path | None) -> None:
        super().__init__(path)
        self.records: list[DeliveryRecord] = []

    def record(self, record: DeliveryRecord) -> None:
        super().record(record)
        self.records.append(record)


def send_test(
    endpoints: Sequence[WebhookEndpoint],
    *,
    dead_letter_path: Path,
    delivery_log_path: Path | None = None,
    resolve: bool = True,
) -> list[DeliveryRecord]:
    """Deliver a test firing (and resolved) alert to each endpoint; return every attempt.

    Endpoint filters are bypassed: the point is to reach each receiver.
    """
    log = _Collect(delivery_log_path)
    unfiltered = [
        e.model_copy(update={"min_severity": Severity.INFO, "match_labels": {}}) for e in endpoints
    ]

    async def run() -> None:
        now = datetime.now(UTC)
        dead = JsonLinesDeadLetter(dead_letter_path)
        async with Notifier(unfiltered, dead_letter=dead, delivery_log=log) as notifier:
            notifier.submit(sample_alert("firing", now))
            if resolve:
                notifier.submit(sample_alert("resolved", now))
            await notifier.join()

    asyncio.run(run())
    return log.records
