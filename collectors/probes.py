"""What the collector's ``/healthz`` and ``/readyz`` check (served by core.probes.ProbeServer).

- Liveness: the collector's loop turns (it beats a :class:`~core.probes.Heartbeat` every turn,
  and every attempt while it waits for Kafka at start); ``CITYIOT_COLLECTOR_LIVENESS_TIMEOUT_S``
  without a turn fails it.
- Readiness: the topics were found or created at start (Kafka answered once); librdkafka's
  latest statistics report shows a broker connection up (:class:`KafkaBrokers`); the MQTT
  session is connected and its shared subscription acknowledged; the collector is not stopping.

All of it is state the collector keeps anyway: a probe costs no round trip to either broker.
"""

from __future__ import annotations

import json
import time
from typing import Any

__all__ = ["STATS_INTERVAL_MS", "KafkaBrokers"]

# librdkafka reports every 5 s: a lost connection shows within one readiness period (10 s in
# the manifests); a report is ~2 KB of JSON per topic in use, parsed in the loop's poll.
STATS_INTERVAL_MS = 5000
# A report older than this (three missed) says nothing about now: the loop no longer polls.
STATS_STALE_S = 3 * STATS_INTERVAL_MS / 1000


class KafkaBrokers:
    """Whether the producer has a broker connection up, from librdkafka's statistics.

    ``config()`` goes into the producer's configuration; librdkafka then calls back from the
    loop's ``poll`` with a JSON report whose ``brokers`` map gives each connection's state
    (``UP``, ``CONNECT``, ``DOWN``, ...). One connection up is enough: the producer reaches the
    partition leaders it needs through it, and an idle producer keeps it (metadata refreshes).
    """

    def __init__(self) -> None:
        self.up = False
        self._reported = 0.0  # time.monotonic() of the last report; 0: none yet

    def config(self) -> dict[str, Any]:
        return {"statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": self.on_stats}

    def on_stats(self, report: str) -> None:
        brokers = json.loads(report).get("brokers", {})
        self.up = any(b.get("state") == "UP" for b in brokers.values())
        self._reported = time.monotonic()

    def problem(self) -> str | None:
        """Why Kafka does not count as reachable, or None."""
        if not self._reported:
            return "kafka: no connection report yet"
        if time.monotonic() - self._reported > STATS_STALE_S:
            return "kafka: no connection report for a while"
        return None if self.up else "kafka: no broker connection up"
