"""A server restarted mid-run: InfluxDB away for seconds; the pipeline holds, then catches up."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests_e2e_support import RUN, explain, finish, start

from cityiot.local.platform import Platform
from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers
from cityiot.settings import Settings

# Long enough that the streams worker retries and holds its offsets, short enough for CI.
INFLUXDB_DOWN_S = 8.0


@pytest.fixture
def own_servers(tmp_path: Path) -> Iterator[LocalServers]:
    """Servers of this test's own: restarting the session's InfluxDB would disturb other tests."""
    servers = LocalServers(
        run_dir=tmp_path / "servers",
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
    )
    with servers:
        yield servers


def test_e2e_influxdb_restart_still_exact(own_servers: LocalServers, tmp_path: Path) -> None:
    """InfluxDB stopped for seconds mid-run and started again: storage still equals truth."""
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        mqtt={"url": own_servers.mqtt_url, "topic_prefix": f"city-{tag}"},
        kafka={"bootstrap_servers": own_servers.kafka_bootstrap},
        influxdb={"url": own_servers.influxdb_url, "database": f"db_{tag}"},
        stream={"app_id": f"streams_{tag}"},
        collector={"group": f"collectors_{tag}", "client_id": f"collector_{tag}"},
        run_dir=tmp_path / "run",
    )
    platform = Platform(settings, tmp_path / "platform")
    try:
        start(platform, replace(RUN, seed=RUN.seed + 2))
        time.sleep(4.0)
        own_servers.restart("influxdb", down_s=INFLUXDB_DOWN_S)
        result = finish(platform)
        assert result.exact, explain(result)
        platform.children.check(expected_exits=("simulator",))
    finally:
        platform.stop()
