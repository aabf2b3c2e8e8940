"""Fixtures of the streams tests: settings with short Faust timeouts, workers, a private InfluxDB.

Each test gets its own events topic and InfluxDB database (the session ``settings`` fixture) and
its own Faust app id, so its consumer group and changelog topic are its own too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from stream_helpers import PrivateInfluxDB, WorkerProcess

from core.settings import Settings


@pytest.fixture
def stream_settings(settings: Settings, unique_name: str) -> Settings:
    """Session servers, this test's topics, database and app id; short rebalance timeouts."""
    return settings.model_copy(
        update={
            "stream": settings.stream.model_copy(
                update={
                    "app_id": f"streams_{unique_name}",
                    # FACTS.md: group join in 3 s instead of 30 s.
                    "rebalance_timeout_s": 5.0,
                    "session_timeout_s": 6.0,
                    "heartbeat_interval_s": 1.0,
                    "commit_interval_s": 0.5,
                    "health_interval_s": 2.0,
                    "influx_retry_max_s": 1.0,
                    "batch_max_events": 1000,
                }
            )
        }
    )


@pytest.fixture
def workers(stream_settings: Settings, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes (``python -m streams``); all are stopped at the end."""
    started: list[WorkerProcess] = []

    def start(settings: Settings | None = None) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess(settings or stream_settings, log).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def private_influxdb(tmp_path: Path) -> Iterator[PrivateInfluxDB]:
    """An InfluxDB of this test's own, which the test may stop and start."""
    influx = PrivateInfluxDB(tmp_path / "influxdb")
    influx.start()
    yield influx
    influx.stop()
