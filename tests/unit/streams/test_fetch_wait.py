"""The worker consumer's fetch wait (streams/faust_private.py): the setting reaches the aiokafka
consumer Faust creates, and Faust/aiokafka still have the internals the override relies on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiokafka
import pytest
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from core.settings import Settings
from core.settings.stream import StreamSettings
from streams.app import create_app
from streams.faust_private import (
    FAUST_FETCH_MAX_WAIT_MS,
    BatchConsumer,
    FetchWaitConsumerThread,
    set_fetch_limits,
)


def _settings(tmp_path: Path, **stream: Any) -> Settings:
    return Settings(
        kafka={"bootstrap_servers": "127.0.0.1:1"},  # never contacted: consumers are not started
        stream={"app_id": "fetch-wait-test", **stream},
        run_dir=tmp_path,
    )


def _worker_consumers(settings: Settings) -> tuple[aiokafka.AIOKafkaConsumer, Any]:
    """(ours, Faust's own) aiokafka worker consumers for ``settings``, not started."""

    async def build() -> tuple[aiokafka.AIOKafkaConsumer, Any]:
        app = create_app(settings)
        consumer = app.consumer
        assert isinstance(consumer, BatchConsumer)
        thread = consumer._thread
        assert isinstance(thread, FetchWaitConsumerThread)
        ours = thread._create_worker_consumer(app.transport)
        faust_own = AIOKafkaConsumerThread._create_worker_consumer(thread, app.transport)
        return ours, faust_own

    return asyncio.run(build())


def test_default_is_short() -> None:
    assert StreamSettings().fetch_max_wait_ms < FAUST_FETCH_MAX_WAIT_MS


def test_worker_consumer_uses_the_setting(tmp_path: Path) -> None:
    ours, faust_own = _worker_consumers(_settings(tmp_path, fetch_max_wait_ms=123))
    assert ours._fetch_max_wait_ms == 123
    # Faust's own value is unchanged by the override (and still the hard-coded one: if Faust
    # makes it a setting or changes it, revisit streams/faust_private.py).
    assert faust_own._fetch_max_wait_ms == FAUST_FETCH_MAX_WAIT_MS


def test_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYIOT_STREAM_FETCH_MAX_WAIT_MS", "250")
    settings = Settings(run_dir=tmp_path)
    assert settings.stream.fetch_max_wait_ms == 250


def test_aiokafka_stores_the_wait_where_we_set_it() -> None:
    """aiokafka keeps the constructor's value in ``_fetch_max_wait_ms`` until ``start()`` hands it
    to its Fetcher (the integration test checks the started fetcher)."""

    async def build() -> aiokafka.AIOKafkaConsumer:
        return aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=321)

    consumer = asyncio.run(build())
    assert consumer._fetch_max_wait_ms == 321
    assert consumer._fetcher is None
    set_fetch_limits(consumer, max_wait_ms=77, min_bytes=2048)
    assert consumer._fetch_max_wait_ms == 77
    assert consumer._fetch_min_bytes == 2048


def test_set_fetch_limits_fails_loudly() -> None:
    class Changed:
        _fetcher = None

    with pytest.raises(RuntimeError, match="internals changed"):
        set_fetch_limits(Changed(), max_wait_ms=100)  # type: ignore[arg-type]

    class Started:
        _fetcher = object()
        _fetch_max_wait_ms = 1500
        _fetch_min_bytes = 1

    with pytest.raises(RuntimeError, match="after the aiokafka consumer started"):
        set_fetch_limits(Started(), max_wait_ms=100)  # type: ignore[arg-type]
