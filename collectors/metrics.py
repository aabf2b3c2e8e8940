"""The collector's counters, exported to Prometheus and summarised in the log.

The same port serves ``/healthz`` and ``/readyz`` (core.probes; what they check:
collectors/probes.py).

Hot paths bump plain ints (a prometheus_client ``Counter.inc`` takes a lock: at 10,000+ msg/s
that is measurable); a custom collector turns them into metric families when scraped. Each counter
has one writer thread (MQTT thread: received and rejected; pump thread: the rest), so no lock.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from core.probes import Heartbeat, ProbeServer, ReadyCheck
from core.settings.env import env_name

__all__ = ["LATENCY_BUCKETS_S", "CollectorStats", "MetricsServer", "summary_line"]

# Produce latency (MQTT receive → Kafka acknowledged): milliseconds normally, seconds when Kafka
# is slow, minutes when it is down and the collector is holding the line.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0)


class CollectorStats:
    """Counters of one collector."""

    def __init__(self) -> None:
        self.received = 0
        self.rejected: Counter[str] = Counter()  # reason -> count
        self.produced: Counter[str] = Counter()  # record kind (event / deadletter) -> count
        self.acked = 0
        # Delivered to Kafka after the MQTT connection it came on was lost: not acked (an ack on
        # the new connection could hit another message), the broker redelivers it: a duplicate.
        self.ack_skipped = 0
        self.produce_errors = 0
        self.mqtt_connects = 0
        self.latency_buckets = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.latency_sum = 0.0
        self.in_flight: Callable[[], int] = lambda: 0

    def observe_latency(self, seconds: float) -> None:
        self.latency_buckets[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.latency_sum += seconds

    @property
    def deadlettered(self) -> int:
        return self.produced["deadletter"]


class _Exporter(Collector):
    def __init__(self, stats: CollectorStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self._stats
        received = CounterMetricFamily(
            "cityiot_collector_messages_received", "MQTT messages received."
        )
        received.add_metric([], s.received)
        yield received
        produced = CounterMetricFamily(
            "cityiot_collector_records_produced",
            "Records Kafka acknowledged, by kind (event, deadletter).",
            labels=["kind"],
        )
        for kind in ("event", "deadletter"):
            produced.add_metric([kind], s.produced[kind])
        yield produced
        rejected = CounterMetricFamily(
            "cityiot_collector_rejected",
            "Messages routed to the dead letter, by reason code.",
            labels=["reason"],
        )
        for reason, count in sorted(s.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        acked = CounterMetricFamily(
            "cityiot_collector_messages_acked", "MQTT messages acknowledged to the broker."
        )
        acked.add_metric([], s.acked)
        yield acked
        skipped = CounterMetricFamily(
            "cityiot_collector_acks_skipped",
            "Messages in Kafka whose MQTT connection was lost before the ack (redelivered).",
        )
        skipped.add_metric([], s.ack_skipped)
        yield skipped
        errors = CounterMetricFamily(
            "cityiot_collector_produce_errors", "Kafka delivery failures (the record is retried)."
        )
        errors.add_metric([], s.produce_errors)
        yield errors
        connects = CounterMetricFamily(
            "cityiot_collector_mqtt_connects", "Successful MQTT (re)connections."
        )
        connects.add_metric([], s.mqtt_connects)
        yield connects
        in_flight = GaugeMetricFamily(
            "cityiot_collector_in_flight_messages",
            "Messages received and not yet acked (waiting for Kafka).",
        )
        in_flight.add_metric([], s.in_flight())
        yield in_flight
        cumulative, buckets = 0, []
        for bound, count in zip((*LATENCY_BUCKETS_S, float("inf")), s.latency_buckets, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        latency = HistogramMetricFamily(
            "cityiot_collector_produce_latency_seconds",
            "From MQTT receive to Kafka acknowledgement.",
        )
        latency.add_metric([], buckets, sum_value=s.latency_sum)
        yield latency


class MetricsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` over HTTP for one collector, on its own registry.

    Raises:
        SettingError: The port is in use (naming CITYIOT_COLLECTOR_METRICS_PORT) or the host is
            not this machine's (naming CITYIOT_COLLECTOR_METRICS_HOST).
    """

    def __init__(
        self,
        stats: CollectorStats,
        *,
        host: str,
        port: int,
        heartbeat: Heartbeat,
        ready: ReadyCheck,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Exporter(stats))
        self._server = ProbeServer(
            host=host,
            port=port,
            registry=self.registry,
            heartbeat=heartbeat,
            ready=ready,
            port_variable=env_name("metrics_port", "collector"),
            host_variable=env_name("metrics_host", "collector"),
        )

    @property
    def port(self) -> int:
        return self._server.port

    def close(self) -> None:
        self._server.close()


def summary_line(stats: CollectorStats, *, rate: float) -> str:
    """One key=value line for the periodic log summary."""
    reasons = ",".join(f"{r}:{n}" for r, n in sorted(stats.rejected.items())) or "-"
    return (
        f"received={stats.received} produced={stats.produced['event']} "
        f"deadlettered={stats.deadlettered} acked={stats.acked} in_flight={stats.in_flight()} "
        f"rate={rate:.0f}/s reasons={reasons} ack_skipped={stats.ack_skipped} "
        f"produce_errors={stats.produce_errors}"
    )
