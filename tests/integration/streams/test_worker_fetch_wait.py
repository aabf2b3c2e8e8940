"""The configured fetch wait against the real broker: the started worker consumer's fetcher
holds it, and a real worker's batch cadence follows it (Tansu holds a fetch for the full wait)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable

import pytest
from stream_helpers import WorkerProcess, produce
from tests_support import eventually

from cityiot.local.ports import free_port
from core.settings import Settings
from streams.app import create_app
from streams.faust_private import BatchConsumer
from streams.synthetic import Fleet
from streams.worker import ensure_topics

pytestmark = pytest.mark.integration

STEADY_S = 4.0
RATE = 100  # msg/s: records keep arriving, so every fetch has something to return


def test_started_worker_consumer_fetcher_uses_the_setting(stream_settings: Settings) -> None:
    settings = stream_settings.model_copy(
        update={
            "stream": stream_settings.stream.model_copy(
                update={"fetch_max_wait_ms": 150, "fetch_min_bytes": 4096}
            )
        }
    )
    ensure_topics(settings)

    async def check() -> None:
        app = create_app(settings)
        consumer = app.consumer
        assert isinstance(consumer, BatchConsumer)
        aio = consumer._thread._create_worker_consumer(app.transport)
        await aio.start()
        try:
            assert aio._fetcher is not None
            assert aio._fetcher._fetch_max_wait_ms == 150
            assert aio._fetcher._fetch_min_bytes == 4096
        finally:
            await aio.stop()

    asyncio.run(check())


def _batches(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("cityiot_stream_batch_seconds_count")
    )


def test_worker_batch_cadence_follows_the_fetch_wait(
    stream_settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    """At a steady 100 msg/s a worker with a 100 ms wait makes ~10 batches/s; with Faust's
    1500 ms it made ≤ 1 per 1.5 s (≤ 3 in 4 s)."""
    port = free_port()
    settings = stream_settings.model_copy(
        update={
            "stream": stream_settings.stream.model_copy(
                update={"fetch_max_wait_ms": 100, "metrics_port": port}
            )
        }
    )
    k = settings.kafka
    fleet = Fleet(devices=50)
    records = fleet.records(int(RATE * (STEADY_S + 30)))
    worker = workers(settings)
    # Warm up until the worker has joined its group and processed a first batch.
    produce(k.bootstrap_servers, k.events_topic, records[:10])

    def first_batch() -> None:
        worker.assert_alive()
        try:
            batches = _batches(port)
        except OSError as exc:  # the metrics endpoint starts with the worker
            raise AssertionError(f"metrics not served yet: {exc}") from None
        assert batches >= 1

    eventually(first_batch, what="the worker's first batch")
    sent = 10
    before = _batches(port)
    start = time.monotonic()
    while time.monotonic() - start < STEADY_S:
        produce(k.bootstrap_servers, k.events_topic, records[sent : sent + RATE // 10])
        sent += RATE // 10
        time.sleep(0.1)
    batches = _batches(port) - before
    elapsed = time.monotonic() - start
    worker.assert_alive()
    # 1500 ms would give ≤ elapsed / 1.5 + 1 (~4); 100 ms gives ~elapsed / 0.1 minus processing.
    assert batches >= 3 * (elapsed / 1.5 + 1), f"{batches} batches in {elapsed:.1f} s"
