"""Delivery of alert changes to webhook endpoints: asyncio + aiohttp, one queue per endpoint.

Each endpoint has its own bounded queue and one worker task, so a slow or dead endpoint delays
only itself, and one endpoint's notifications arrive in the order the engine produced them
(firing before resolved). An attempt that fails with a connection error, a timeout, HTTP 5xx,
408/425/429 or a robot error code is retried after a full-jitter exponential backoff
(``random() × min(max, initial × 2^n)``), re-signed each time; other 4xx and redirects are
permanent. After the last attempt, or when a queue is full, the notification goes to the dead
letter and ``cityiot_alerts_webhook_failed_total`` counts it. Every attempt is recorded in the
delivery log. URLs and secrets never reach a log line or a record: endpoints appear by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

import aiohttp
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ConfigDict

from core.settings.alert import WebhookEndpoint
from schemas.alert import Alert
from streams.alerts.webhooks import FORMATS
from streams.alerts.webhooks._common import MAX_RESPONSE_BYTES

__all__ = [
    "DeadLetter",
    "DeadLetterSink",
    "DeliveryLog",
    "DeliveryRecord",
    "JsonLinesDeadLetter",
    "JsonLinesDeliveryLog",
    "Notifier",
]

log = logging.getLogger("cityiot.streams.alerts.webhooks")

NOTIFICATIONS = Counter(
    "cityiot_alerts_notifications_total",
    "Alert notifications by endpoint and final result (delivered, dead_letter).",
    ["endpoint", "result"],
)
FAILED = Counter(
    "cityiot_alerts_webhook_failed_total",
    "Notifications that went to the dead letter (retries exhausted, permanent error, queue full).",
    ["endpoint"],
)
ATTEMPTS = Counter(
    "cityiot_alerts_webhook_attempts_total",
    "HTTP attempts by endpoint and outcome (ok, error).",
    ["endpoint", "outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "cityiot_alerts_webhook_attempt_seconds", "Duration of one HTTP attempt.", ["endpoint"]
)

# Statuses worth retrying: the server may answer differently later.
_RETRYABLE_STATUS = frozenset({408, 425, 429})


class DeliveryRecord(BaseModel):
    """One attempt, as written to the delivery log."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    endpoint: str
    format: str
    fingerprint: str
    status: str
    idempotency_key: str
    attempt: int
    outcome: Literal["delivered", "retry", "dead_letter"]
    http_status: int | None = None
    error: str | None = None
    duration_ms: float


class DeadLetter(BaseModel):
    """A notification that could not be delivered, with the alert to replay it."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    endpoint: str
    reason: Literal["retries_exhausted", "permanent_error", "queue_full", "shutdown"]
    attempts: int
    last_error: str | None
    alert: Alert


class DeadLetterSink(Protocol):
    """Where undeliverable notifications go (a JSON-lines file now; a Kafka topic later)."""

    async def put(self, record: DeadLetter) -> None: ...


class DeliveryLog(Protocol):
    def record(self, record: DeliveryRecord) -> None: ...


class JsonLinesDeadLetter:
    """Appends each dead letter as one JSON line (whole lines, even from several tasks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    async def put(self, record: DeadLetter) -> None:
        line = record.model_dump_json() + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)

    def read(self) -> list[DeadLetter]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [DeadLetter.model_validate_json(line) for line in lines if line]


class JsonLinesDeliveryLog:
    """Logs each attempt as key=value (debug when delivered) and, with a path, as a JSON line."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, record: DeliveryRecord) -> None:
        level = logging.DEBUG if record.outcome == "delivered" else logging.WARNING
        log.log(
            level,
            "webhook attempt endpoint=%s fingerprint=%s status=%s attempt=%d outcome=%s "
            "http_status=%s error=%r duration_ms=%.1f",
            record.endpoint,
            record.fingerprint,
            record.status,
            record.attempt,
            record.outcome,
            record.http_status,
            record.error,
            record.duration_ms,
        )
        if self.path is not None:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(record.model_dump_json() + "\n")

    def read(self) -> list[DeliveryRecord]:
        if self.path is None or not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [DeliveryRecord.model_validate(json.loads(line)) for line in lines if line]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Notifier:
    """Sends alert changes to every endpoint that accepts them. Use as ``async with``.

    ``submit`` never blocks the caller (the stream agent); ``join`` waits until every queued
    notification is delivered or dead-lettered; ``close`` stops the workers and dead-letters
    what is still queued (reason ``shutdown``) so nothing disappears silently.
    """

    def __init__(
        self,
        endpoints: Sequence[WebhookEndpoint],
        *,
        dead_letter: DeadLetterSink,
        delivery_log: DeliveryLog | None = None,
        clock: Callable[[], datetime] = _utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._endpoints = list(endpoints)
        self._dead_letter = dead_letter
        self._log: DeliveryLog = delivery_log or JsonLinesDeliveryLog()
        self._clock = clock
        self._jitter = jitter
        self._queues: dict[str, asyncio.Queue[Alert]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._dead_letter_tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Notifier:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        # One session: connection reuse per endpoint; timeouts are set per request.
        self._session = aiohttp.ClientSession()
        for endpoint in self._endpoints:
            queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=endpoint.queue_size)
            self._queues[endpoint.name] = queue
            task = asyncio.create_task(
                self._worker(endpoint, queue), name=f"webhook-{endpoint.name}"
            )
            self._tasks.append(task)

    def submit(self, alert: Alert) -> list[str]:
        """Queue ``alert`` for each endpoint that accepts it; return those endpoints' names."""
        queued = []
        for endpoint in self._endpoints:
            if not endpoint.accepts(
                status=alert.status, severity=alert.severity, labels=alert.labels
            ):
                continue
            try:
                self._queues[endpoint.name].put_nowait(alert)
            except asyncio.QueueFull:
                self._spawn_dead_letter(endpoint, alert, "queue_full", 0, None)
                continue
            queued.append(endpoint.name)
        return queued

    async def join(self) -> None:
        """Wait until every queued notification is delivered or dead-lettered."""
        await asyncio.gather(*(q.join() for q in self._queues.values()))
        await asyncio.gather(*self._dead_letter_tasks)

    async def close(self, drain_s: float = 0.0) -> None:
        """Stop. Waits up to ``drain_s`` for queues to empty; the rest goes to the dead letter."""
        if drain_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.join(), drain_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await asyncio.gather(*self._dead_letter_tasks)
        by_name = {e.name: e for e in self._endpoints}
        for name, queue in self._queues.items():
            while not queue.empty():
                alert = queue.get_nowait()
                await self._to_dead_letter(by_name[name], alert, "shutdown", 0, None)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _spawn_dead_letter(
        self,
        endpoint: WebhookEndpoint,
        alert: Alert,
        reason: Literal["queue_full"],
        attempts: int,
        error: str | None,
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._to_dead_letter(endpoint, alert, reason, attempts, error)
        )
        self._dead_letter_tasks.add(task)
        task.add_done_callback(self._dead_letter_tasks.discard)

    async def _to_dead_letter(
        self,
        endpoint: WebhookEndpoint,
        alert: Alert,
        reason: Literal["retries_exhausted", "permanent_error", "queue_full", "shutdown"],
        attempts: int,
        error: str | None,
    ) -> None:
        FAILED.labels(endpoint.name).inc()
        NOTIFICATIONS.labels(endpoint.name, "dead_letter").inc()
        log.error(
            "webhook dead letter endpoint=%s fingerprint=%s status=%s reason=%s attempts=%d",
            endpoint.name,
            alert.fingerprint,
            alert.status,
            reason,
            attempts,
        )
        record = DeadLetter(
            at=self._clock(),
            endpoint=endpoint.name,
            reason=reason,
            attempts=attempts,
            last_error=error,
            alert=alert,
        )
        await self._dead_letter.put(record)

    async def _worker(self, endpoint: WebhookEndpoint, queue: asyncio.Queue[Alert]) -> None:
        while True:
            alert = await queue.get()
            try:
                await self._deliver(endpoint, alert)
            except asyncio.CancelledError:
                # Stopped mid-delivery: record it rather than lose it.
                await self._to_dead_letter(endpoint, alert, "shutdown", 0, "stopped")
                raise
            except Exception as exc:  # a bug here must not kill the endpoint's worker
                log.exception("webhook worker error endpoint=%s", endpoint.name)
                await self._to_dead_letter(endpoint, alert, "permanent_error", 0, repr(exc))
            finally:
                queue.task_done()

    async def _deliver(self, endpoint: WebhookEndpoint, alert: Alert) -> None:
        fmt = FORMATS[endpoint.format]
        attempts = endpoint.retries + 1
        loop = asyncio.get_running_loop()
        error: str | None = None
        for attempt in range(1, attempts + 1):
            request = fmt.render(alert, endpoint, now=self._clock())
            started = loop.time()
            status: int | None = None
            retryable = True
            try:
                status, body = await self._post(
                    endpoint, request.url, request.headers, request.body
                )
                error = fmt.check_response(status, body)
                if 300 <= status < 500 and status not in _RETRYABLE_STATUS:
                    retryable = False  # the request itself is wrong; repeating it won't help
            except TimeoutError:
                error = f"timeout after {endpoint.timeout_s:g}s"
            except aiohttp.ClientError as exc:
                error = _client_error(exc)
            elapsed = loop.time() - started
            ATTEMPT_SECONDS.labels(endpoint.name).observe(elapsed)
            ATTEMPTS.labels(endpoint.name, "ok" if error is None else "error").inc()
            last = attempt == attempts or not retryable
            outcome: Literal["delivered", "retry", "dead_letter"] = (
                "delivered" if error is None else "dead_letter" if last else "retry"
            )
            self._log.record(
                DeliveryRecord(
                    at=self._clock(),
                    endpoint=endpoint.name,
                    format=endpoint.format,
                    fingerprint=alert.fingerprint,
                    status=alert.status,
                    idempotency_key=alert.idempotency_key,
                    attempt=attempt,
                    outcome=outcome,
                    http_status=status,
                    error=error,
                    duration_ms=round(elapsed * 1000, 1),
                )
            )
            if error is None:
                NOTIFICATIONS.labels(endpoint.name, "delivered").inc()
                return
            if last:
                break
            cap = min(endpoint.backoff_max_s, endpoint.backoff_initial_s * 2 ** (attempt - 1))
            await asyncio.sleep(self._jitter() * cap)  # full jitter: retries don't stampede
        reason: Literal["retries_exhausted", "permanent_error"] = (
            "retries_exhausted" if retryable else "permanent_error"
        )
        await self._to_dead_letter(endpoint, alert, reason, attempt, error)

    async def _post(
        self, endpoint: WebhookEndpoint, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        assert self._session is not None, "Notifier.start() was not called"
        timeout = aiohttp.ClientTimeout(total=endpoint.timeout_s)
        # No redirects: a redirect would carry the signed body to a host nobody configured.
        async with self._session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            return response.status, await response.content.read(MAX_RESPONSE_BYTES)


def _client_error(exc: aiohttp.ClientError) -> str:
    """A short cause without the URL (it may carry a token)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connect failed: {exc.os_error.strerror or type(exc.os_error).__name__}"
    return type(exc).__name__
