"""End-to-end fixtures: the platform's own processes on the session's real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cityiot.local.platform import Platform
from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers
from core.settings import Settings


@pytest.fixture
def platform(settings: Settings, tmp_path: Path) -> Iterator[Platform]:
    """Collector, streams worker and simulator as children; stopped even when the test fails."""
    running = Platform(settings, tmp_path / "platform")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def own_servers(tmp_path: Path) -> Iterator[LocalServers]:
    """Servers of this test's own, for a test that restarts or kills one: doing that to the
    session's would disturb every other test."""
    servers = LocalServers(
        run_dir=tmp_path / "servers",
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
    )
    with servers:
        yield servers
