"""What the streams worker's ``/healthz`` and ``/readyz`` check (served by core.probes.ProbeServer
on ``CITYIOT_STREAM_METRICS_PORT``, beside the Prometheus metrics).

- Liveness: Faust's event loop turns. A callback on the loop beats a :class:`~core.probes.Heartbeat`
  every ``BEAT_S``; while the worker waits for Kafka at start (before the loop runs) each attempt
  beats it. ``CITYIOT_STREAM_LIVENESS_TIMEOUT_S`` without a beat fails it: a handler stuck in a
  blocking call, a loop that never started.
- Readiness, Kafka: the worker joined its consumer group and recovered its table (Faust's first
  rebalance completed, even with no partition: a worker beyond the partition count is idle but
  ready), and no rebalance is under way.
- Readiness, InfluxDB: the sink is not retrying a failed write, and ``GET /ping`` answers 2xx
  (with the worker's credentials: 3.x wants them). The answer is kept ``PING_CACHE_S``, and a
  ping waits at most ``PING_TIMEOUT_S``, so a probe stays cheap and prompt with InfluxDB gone.

Faust's own web server stays off (``web_enabled=False`` in streams/app.py): one port per process,
the one the metrics already had.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from core.influx import InfluxTarget
from core.probes import Heartbeat
from core.settings import Settings

__all__ = ["BEAT_S", "PING_CACHE_S", "PING_TIMEOUT_S", "StreamProbes"]

# Often enough that a beat's age says "now"; rare enough to cost nothing on the loop.
BEAT_S = 1.0
# Readiness probes come every 10 s in the manifests: one ping per probe at most, and two
# probes close together share one.
PING_CACHE_S = 5.0
# Below the manifests' probe timeout (3 s): a probe answers "not ready" rather than time out.
PING_TIMEOUT_S = 2.0


class StreamProbes:
    """Liveness and readiness of one streams worker; the probe server's thread reads them."""

    def __init__(self, settings: Settings) -> None:
        self.heartbeat = Heartbeat(settings.stream.liveness_timeout_s)
        #: The worker's Faust app, once created (:meth:`watch`).
        self.app: Any = None
        self._target = InfluxTarget.from_settings(settings.influxdb)
        self._ping_lock = threading.Lock()
        self._pinged_at = 0.0
        self._ping_problem: str | None = "influxdb: not asked yet"

    def watch(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        """Follow ``app`` from now on; beat from ``loop``, the one the worker runs."""
        self.app = app
        self.heartbeat.beat()
        loop.call_soon(self._beat, loop)

    def _beat(self, loop: asyncio.AbstractEventLoop) -> None:
        self.heartbeat.beat()
        loop.call_later(BEAT_S, self._beat, loop)

    def not_ready(self) -> list[str]:
        """Why this worker is not ready; nothing when it is."""
        problems = []
        app = self.app
        if app is None or app.rebalancing_count == 0:
            problems.append("kafka: not in the consumer group yet")
        elif app.rebalancing:
            problems.append("kafka: rebalancing (partitions moving, tables recovering)")
        pipeline = getattr(app, "pipeline", None)
        if pipeline is not None and not pipeline.sink.available:
            problems.append("influxdb: writes failing (retrying)")
        ping = self._ping()
        if ping is not None:
            problems.append(ping)
        return problems

    def _ping(self) -> str | None:
        with self._ping_lock:
            if time.monotonic() - self._pinged_at >= PING_CACHE_S:
                self._ping_problem = _ping(self._target)
                self._pinged_at = time.monotonic()
            return self._ping_problem


def _ping(target: InfluxTarget) -> str | None:
    """None when InfluxDB's ``/ping`` answers 2xx (1.x, 2.x and 3.x all serve it)."""
    request = urllib.request.Request(  # noqa: S310 (http[s] URL, checked by the settings)
        f"{target.url}/ping", headers=target.headers()
    )
    try:
        with urllib.request.urlopen(request, timeout=PING_TIMEOUT_S) as answer:  # noqa: S310
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return target.redact(f"influxdb: no answer to /ping ({getattr(exc, 'reason', exc)})")
    return None if 200 <= status < 300 else f"influxdb: /ping answered {status}"
