"""The streams worker's Prometheus metrics (``cityiot_stream_*``), bumped once per batch.

They are served on ``CITYIOT_STREAM_METRICS_PORT`` with ``/healthz`` and ``/readyz``
(streams/worker.py starts the server, streams/probes.py says what the probes check).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["METRICS", "StreamMetrics"]


@dataclass
class StreamMetrics:
    events: Counter = field(
        default_factory=lambda: Counter(
            "cityiot_stream_events_total",
            "Events consumed, by result: accepted, duplicate, late (accepted, raw only), rejected.",
            ["result"],
        )
    )
    seq_gaps: Gauge = field(
        default_factory=lambda: Gauge(
            "cityiot_stream_seq_gaps",
            "Missing seqs (loss at the source) summed over this worker's devices.",
        )
    )
    device_resets: Gauge = field(
        default_factory=lambda: Gauge(
            "cityiot_stream_device_resets",
            "Counter restarts (reboots) summed over this worker's devices.",
        )
    )
    influx_points: Counter = field(
        default_factory=lambda: Counter(
            "cityiot_stream_influx_points_total", "Lines written to InfluxDB."
        )
    )
    influx_errors: Counter = field(
        default_factory=lambda: Counter(
            "cityiot_stream_influx_errors_total",
            "Failed writes: unavailable (retried) or rejected (split, dead-lettered).",
            ["kind"],
        )
    )
    influx_available: Gauge = field(
        default_factory=lambda: Gauge(
            "cityiot_stream_influx_available", "1 while writes succeed, 0 while retrying."
        )
    )
    influx_write_seconds: Histogram = field(
        default_factory=lambda: Histogram(
            "cityiot_stream_influx_write_seconds", "Duration of one successful write request."
        )
    )
    deadletters: Counter = field(
        default_factory=lambda: Counter(
            "cityiot_stream_deadletters_total",
            "Records sent to the dead-letter topic, by reason.",
            ["reason"],
        )
    )
    batch_seconds: Histogram = field(
        default_factory=lambda: Histogram(
            "cityiot_stream_batch_seconds",
            "One batch: decode, state, InfluxDB write, changelog flush, ack.",
        )
    )


METRICS = StreamMetrics()
