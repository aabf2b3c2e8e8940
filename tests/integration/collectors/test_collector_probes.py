"""The collector's /healthz and /readyz on its metrics port, against the real servers."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest
from collector_helpers import running, with_collector
from tests_support import eventually

from cityiot.local.ports import free_port
from collectors.service import Collector
from core.settings import Settings

pytestmark = pytest.mark.integration

# Short enough that the test outlives it twice, long enough for a loaded machine's turns
# (a turn waits 0.25 s at most when idle).
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


def test_collector_probes_ready_once_mqtt_and_kafka_connected(
    collector_settings: Settings,
) -> None:
    """Subscribed and with a Kafka connection up: /readyz 200; the loop keeps /healthz 200 past
    its limit; /metrics is still served on the same port; stopped, the port closes."""
    port = free_port()
    settings = with_collector(
        collector_settings, metrics_port=port, liveness_timeout_s=LIVENESS_TIMEOUT_S
    )
    with running(settings):
        eventually(lambda: get(port, "/readyz") == (200, "ready\n"), what="/readyz 200")
        # Twice the limit after ready (so after every beat of the start): alive only if the loop
        # keeps beating.
        time.sleep(2 * LIVENESS_TIMEOUT_S)
        assert get(port, "/healthz") == (200, "ok\n")
        status, metrics = get(port, "/metrics")
        assert status == 200
        assert "cityiot_collector_mqtt_connects_total 1.0" in metrics
    assert get(port, "/healthz")[0] == 0


def test_collector_alive_but_not_ready_while_kafka_is_away(collector_settings: Settings) -> None:
    """Kafka unreachable at start: the collector waits, alive (/healthz 200) and not ready
    (/readyz 503 naming Kafka and MQTT); it stops promptly when asked."""
    port = free_port()
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = with_collector(collector_settings, metrics_port=port)
    settings = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"bootstrap_servers": nowhere})}
    )
    collector = Collector(settings)
    stop = threading.Event()
    thread = threading.Thread(target=collector.run, args=(stop,), name="collector-no-kafka")
    thread.start()
    try:
        _status, body = eventually(
            lambda: (answer := get(port, "/readyz"))[0] == 503 and answer,
            what="/readyz answering",
        )
        assert body == "kafka: waiting for the broker at start\nmqtt: not connected\n"
        assert get(port, "/healthz") == (200, "ok\n")
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
