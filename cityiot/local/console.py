"""The live console of ``cityiot up``: what flows through the platform, once a second.

Figures come from where the platform already exposes them: the collector's and the streams
worker's Prometheus endpoints, and InfluxDB for devices online and alerts firing. Nothing here
is on a hot path; a figure that cannot be read shows as ``-``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.table import Table

from cityiot.local.platform import Platform, scrape
from core.influx import InfluxError

__all__ = ["Snapshot", "render", "take_snapshot"]

REASON_PREFIX = "cityiot_collector_rejected_total{reason="


@dataclass
class Snapshot:
    at: float
    received: float = 0.0
    produced_events: float = 0.0
    consumed: float = 0.0
    points: float = 0.0
    deadletters: dict[str, float] = field(default_factory=dict)
    in_flight: float = 0.0
    devices_online: int | None = None
    alerts_firing: int | None = None


def _influx_counts(platform: Platform) -> tuple[int | None, int | None]:
    target = platform.influx()
    try:
        online = sum(
            1
            for series in target.query(
                'SELECT last("online") FROM "device_health" WHERE time > now() - 5m '
                'GROUP BY "device"'
            )
            if series["values"][0][1] in (True, 1)
        )
        firing = sum(
            1
            for series in target.query('SELECT last("firing") FROM "alerts" GROUP BY "fingerprint"')
            if series["values"][0][1] in (True, 1)
        )
    except (InfluxError, KeyError, IndexError):
        return None, None
    return online, firing


def take_snapshot(platform: Platform, *, with_influx: bool) -> Snapshot:
    collector = scrape(platform.collector_metrics_port)
    stream = scrape(platform.stream_metrics_port)
    snap = Snapshot(
        at=time.monotonic(),
        received=collector.get("cityiot_collector_messages_received_total", 0.0),
        produced_events=collector.get("cityiot_collector_records_produced_total{kind=event}", 0.0),
        consumed=sum(v for k, v in stream.items() if k.startswith("cityiot_stream_events_total")),
        points=stream.get("cityiot_stream_influx_points_total", 0.0),
        deadletters={
            k[len(REASON_PREFIX) : -1]: v
            for k, v in collector.items()
            if k.startswith(REASON_PREFIX)
        },
        in_flight=collector.get("cityiot_collector_in_flight_messages", 0.0),
    )
    if with_influx:
        snap.devices_online, snap.alerts_firing = _influx_counts(platform)
    return snap


def _rate(now: Snapshot, before: Snapshot | None, attr: str) -> str:
    if before is None or now.at <= before.at:
        return "-"
    per_s = (getattr(now, attr) - getattr(before, attr)) / (now.at - before.at)
    return f"{per_s:,.0f}/s"


def _opt(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def render(now: Snapshot, before: Snapshot | None, *, registered: int, elapsed_s: float) -> Table:
    table = Table(title=f"cityiot · embedded default · {elapsed_s:,.0f} s", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("rate", justify="right")
    table.add_row("MQTT messages in", f"{now.received:,.0f}", _rate(now, before, "received"))
    table.add_row("in flight (not yet in Kafka)", f"{now.in_flight:,.0f}", "")
    table.add_row("events to Kafka", f"{now.produced_events:,.0f}", "")
    lag = max(0.0, now.produced_events - now.consumed)
    table.add_row("Kafka lag (events not yet streamed)", f"{lag:,.0f}", "")
    table.add_row("events streamed", f"{now.consumed:,.0f}", _rate(now, before, "consumed"))
    table.add_row("points written to InfluxDB", f"{now.points:,.0f}", _rate(now, before, "points"))
    total_dead = sum(now.deadletters.values())
    reasons = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(now.deadletters.items()))
    table.add_row("dead letters", f"{total_dead:,.0f}", reasons or "")
    table.add_row("devices online / registered", f"{_opt(now.devices_online)} / {registered}", "")
    table.add_row("alerts firing", _opt(now.alerts_firing), "")
    return table
