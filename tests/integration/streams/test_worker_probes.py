"""The streams worker's /healthz and /readyz on its metrics port: a real worker process, a
private InfluxDB the test stops and starts again."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from stream_helpers import PrivateInfluxDB, WorkerProcess
from tests_support import eventually

from cityiot.local.ports import free_port
from core.settings import Settings

pytestmark = pytest.mark.integration

# Short enough that the test outlives it twice, long enough for a loaded machine (the loop
# beats every second).
LIVENESS_TIMEOUT_S = 3.0


def get(port: int, path: str) -> tuple[int, str]:
    """(status, body); (0, why) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError as exc:
        return 0, str(exc.reason)


def test_worker_probes_follow_group_and_influxdb(
    stream_settings: Settings,
    private_influxdb: PrivateInfluxDB,
    workers: Callable[..., WorkerProcess],
) -> None:
    """Ready once in the group with InfluxDB answering; the event loop keeps /healthz 200 past
    its limit; InfluxDB gone: not ready (naming it) yet alive; InfluxDB back: ready again."""
    port = free_port()
    settings = stream_settings.model_copy(
        update={
            "influxdb": stream_settings.influxdb.model_copy(update={"url": private_influxdb.url}),
            "stream": stream_settings.stream.model_copy(
                update={"metrics_port": port, "liveness_timeout_s": LIVENESS_TIMEOUT_S}
            ),
        }
    )
    worker = workers(settings)

    def ready() -> None:
        worker.assert_alive()
        assert get(port, "/readyz") == (200, "ready\n")

    eventually(ready, what="the worker ready")
    # Twice the limit after ready (so after every beat of the start): alive only if Faust's loop
    # keeps beating.
    time.sleep(2 * LIVENESS_TIMEOUT_S)
    assert get(port, "/healthz") == (200, "ok\n")
    assert "cityiot_stream_events_total" in get(port, "/metrics")[1]

    private_influxdb.stop()

    def influxdb_named() -> None:
        status, body = get(port, "/readyz")
        assert status == 503
        assert body.startswith("influxdb: no answer to /ping"), body

    eventually(influxdb_named, what="/readyz naming InfluxDB")
    assert get(port, "/healthz") == (200, "ok\n")

    private_influxdb.start()
    eventually(ready, what="the worker ready again")
