"""Helpers of ``bench/e2e.py`` and its peer (``bench/e2e_peer.py``): a step's figures and
verdict, two publishers that record when each message left, the poller that sees when messages
reached Kafka and InfluxDB, the drain, CPU time and RSS per process, percentiles. (Past ~400
lines: one module of helpers for one benchmark; keep it under 500. py-spy: e2e_profile.py.)

Both publishers are stateful across steps: device seqs continue from one step to the next, so
the streams worker never drops a later step's messages as duplicates of an earlier one.
"""

from __future__ import annotations

import collections
import json
import os
import platform as host
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cityiot.reconcile import CHANNEL_MEASUREMENTS, STATUS_MEASUREMENT, count_points
from core.influx import InfluxTarget
from schemas.encode import format_ts
from simulator.engine import Simulation
from simulator.fleet import Fleet
from simulator.message import SimMessage
from simulator.publisher import MqttTarget, Publisher

# FACTS.md: mosquitto_pub -l at QoS 1 is disconnected beyond 65,535 lines, and exits 0.
MOSQUITTO_PUB_MAX_LINES = 50_000
# mosquitto_pub has no "connected" signal: its CONNECT on loopback takes milliseconds.
MOSQUITTO_PUB_CONNECT_S = 1.0
# The feeder writes what is due every tick: the publish time of a line is known to this much.
FEED_TICK_S = 0.002
# paho: same window as the simulator; pacing sleeps only when this far ahead (simulator.run).
PAHO_WINDOW = 1000
PACING_SLACK_S = 0.002
# Messages sampled from the simulator to pick mosquitto_pub's topics and payload templates.
TEMPLATE_SAMPLE = 20_000
# Counted as "queryable": events whose raw point InfluxDB accepted (streams/app.py counts an
# event only after Sink.write returned; duplicates and rejects are not stored).
STORED_RESULTS = ('result="accepted"', 'result="late"')
# Saturation, which ends a series: storage grows at under 90 % of the offered rate, or p99 passes
# STOP_P99_S (a backlog building up). The target is stricter: p99 within TARGET_P99_S, nothing
# lost. They differ because the worker's latency floor (its fetch cadence, ~1.5 s) alone can
# exceed the target at any rate; the series then still climbs to find the throughput ceiling.
MIN_KEEP_UP, STOP_P99_S, TARGET_P99_S = 0.90, 10.0, 2.0
PROCESSES = ("publisher", "mosquitto", "collector", "kafka", "stream", "influxd")
# cityiot's pipeline proper, beside the servers it shares with its peer (Mosquitto, InfluxDB).
PIPELINE = ("collector", "kafka", "stream")
# After publishing, wait for the pipeline to store everything; give up after this long without
# progress (what never arrives is reported as lost), or this long in all.
DRAIN_QUIET_S, DRAIN_MAX_S = 15.0, 300.0
MOSQUITTO_PUB = ("mosquitto_pub", "-h", "127.0.0.1", "-q", "1", "-l")


def _client_id() -> str:
    return f"bench-e2e-{uuid.uuid4().hex[:8]}"


@dataclass
class Sent:
    """What one publisher step sent: the monotonic time each message left, and its CPU cost."""

    times: list[float]
    unacked: int
    cpu_s: float


# -- one step's figures -----------------------------------------------------------------------
@dataclass
class Step:
    publisher: str
    offered: float
    published: int
    sent_rate: float
    visible: int
    e2e_rate: float
    p50: float
    p95: float
    p99: float
    worst: float
    kafka_p50: float
    kafka_p99: float
    lost: int
    unacked: int
    load: str
    cpu_us: dict[str, float] = field(default_factory=dict)
    cores_busy: float = 0.0
    profiled: bool = False
    batches: int = 0  # the worker's batches (fetch → InfluxDB → changelog → ack) in the step
    batch_ms: float = 0.0
    rss_mb: float = 0.0  # peak RSS of the pipeline's processes (cityiot: collector+kafka+stream)

    @property
    def saturated(self) -> bool:
        return self.e2e_rate < MIN_KEEP_UP * self.offered or not self.p99 <= STOP_P99_S

    @property
    def verdict(self) -> str:
        if self.sent_rate < MIN_KEEP_UP * self.offered:
            text = "publisher-limited"
        elif self.saturated:
            text = "saturated"
        elif self.p99 <= TARGET_P99_S and self.lost == 0:
            text = "meets target"
        else:
            text = f"keeps up, {'p99 > 2 s' if self.lost == 0 else 'LOST messages'}"
        return text + (" (py-spy attached)" if self.profiled else "")

    def line(self) -> str:
        cpu = "  ".join(f"{k} {v:.0f}" for k, v in self.cpu_us.items())
        return (
            f"{self.publisher:>13} {self.offered:>7,.0f}/s  sent {self.sent_rate:7,.0f}/s  "
            f"e2e {self.e2e_rate:7,.0f}/s  p50 {self.p50 * 1e3:6.0f} p95 {self.p95 * 1e3:6.0f} "
            f"p99 {self.p99 * 1e3:6.0f} ms (in Kafka: p50 {self.kafka_p50 * 1e3:.0f} p99 "
            f"{self.kafka_p99 * 1e3:.0f} ms)  lost {self.lost}  load {self.load}"
            f"  {self.verdict.upper()}\n"
            f"{'':>14}cpu µs/msg: {cpu}  total {sum(self.cpu_us.values()):.0f}  "
            f"cores busy {self.cores_busy:.2f}\n"
            f"{'':>14}worker: {self.batches} batches, {self.visible / max(1, self.batches):.0f} "
            f"events and {self.batch_ms:.0f} ms each"
        )


# -- machine and processes ---------------------------------------------------------------------
def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model}), Linux {host.release()}, "
        f"Python {host.python_version()}, load average {load()}"
    )


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, all threads (0 once it is gone)."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Peak resident set of a live process since it started, MB (VmHWM; 0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reaped_children_cpu() -> float:
    """cutime + cstime of this process: CPU of every child it has waited for."""
    fields = _stat("self")
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


# -- visibility --------------------------------------------------------------------------------
def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return None  # not up yet


def _sum(text: str, family: str, labels: tuple[str, ...] = ()) -> float:
    """Sum of the samples of ``family`` carrying any of ``labels`` (all if none given)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((family + "{", family + " ")) and (
            not labels or any(label in line for label in labels)
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def stored_events(port: int) -> int | None:
    """The streams worker's count of events stored in InfluxDB (None while it is not up)."""
    text = _scrape(port)
    return None if text is None else int(_sum(text, "cityiot_stream_events_total", STORED_RESULTS))


def kafka_events(port: int) -> int | None:
    """The collector's count of events Kafka acknowledged (None while it is not up)."""
    text = _scrape(port)
    family = "cityiot_collector_records_produced_total"
    return None if text is None else int(_sum(text, family, ('kind="event"',)))


def stream_batches(port: int) -> tuple[float, float]:
    """The worker's batches so far and the seconds they took (cityiot_stream_batch_seconds)."""
    text = _scrape(port) or ""
    family = "cityiot_stream_batch_seconds"
    return _sum(text, family + "_count"), _sum(text, family + "_sum")


Count = Callable[[], int | None]


class Visibility(threading.Thread):
    """Polls two counters every ``interval`` s (cityiot: the worker's and the collector's):
    ``stored`` and ``kafka`` hold (time, count) samples of events in InfluxDB and in Kafka.
    A counter answers None while its process is not up; a missing ``in_kafka`` is not polled.

    The time is taken after the answer arrived: a message is seen at most one interval (plus one
    scrape) after it got there, never before.
    """

    def __init__(self, stored: Count, in_kafka: Count | None, interval: float) -> None:
        super().__init__(name="visibility", daemon=True)
        self.counts = stored, in_kafka
        self.interval = interval
        self.stored: list[tuple[float, int]] = []
        self.kafka: list[tuple[float, int]] = []
        self._done = threading.Event()

    @property
    def last(self) -> int:
        return self.stored[-1][1] if self.stored else 0

    def run(self) -> None:
        next_at = time.monotonic()
        while not self._done.is_set():
            in_kafka = self.counts[1]() if self.counts[1] is not None else None
            if in_kafka is not None:
                self.kafka.append((time.monotonic(), in_kafka))
            stored = self.counts[0]()
            if stored is not None:
                self.stored.append((time.monotonic(), stored))
            next_at += self.interval
            self._done.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._done.set()
        self.join()


def drain(poller: Visibility, target: int, check: Callable[[], None]) -> None:
    """Until ``poller`` saw ``target`` stored, or progress stopped (the rest is lost); ``check``
    raises if a process of the pipeline died."""
    started = last_change = time.monotonic()
    seen = -1
    while poller.last < target and time.monotonic() - started < DRAIN_MAX_S:
        check()
        if poller.last != seen:
            seen, last_change = poller.last, time.monotonic()
        elif time.monotonic() - last_change > DRAIN_QUIET_S:
            break
        time.sleep(0.1)


def latencies(
    times: list[float], samples: list[tuple[float, int]], base: int
) -> tuple[list[float], float, float, int]:
    """Latency of each message that became visible, FIFO: the k-th message published is taken
    as visible at the first sample whose count reached base + k. Also the times of the first and
    last samples that saw new messages, and how many the first one saw (0s if none)."""
    out: list[float] = []
    first = last = 0.0
    first_count = i = 0
    for t, count in samples:
        seen = min(count - base, len(times))
        if seen > i:
            if i == 0:
                first, first_count = t, seen
            out.extend(t - times[k] for k in range(i, seen))
            i, last = seen, t
    return out, first, last, first_count


def latency_slope(times: list[float], lat: list[float]) -> float:
    """Least-squares slope of latency against publish time (s per s), over the visible messages
    in publishing order. A pipeline that keeps up has ~0 (its batch cadence is a saw-tooth that
    averages out); one that handles C msg/s of r offered builds a backlog: slope = r / C - 1."""
    n = len(lat)
    if n < 2:
        return 0.0
    mean_t, mean_l = sum(times[:n]) / n, sum(lat) / n
    var = sum((x - mean_t) ** 2 for x in times[:n])
    cov = sum((x - mean_t) * (y - mean_l) for x, y in zip(times, lat, strict=False))
    return cov / var if var > 0 else 0.0


def delivery(
    times: list[float], samples: list[tuple[float, int]], base: int, rate: float
) -> tuple[list[float], float, float]:
    """The sorted latencies of the messages seen stored, the rate they were sent at, and the
    end-to-end rate: sent rate / (1 + latency slope), times the share seen (bench/e2e.py)."""
    n = len(times)
    lat = latencies(times, samples, base)[0]
    slope = latency_slope(times, lat)
    lat.sort()
    sent_rate = (n - 1) / (times[-1] - times[0]) if n > 1 else rate
    return lat, sent_rate, sent_rate / (1 + max(0.0, slope)) * len(lat) / max(1, n)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list (nan if empty)."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def stored_points(target: InfluxTarget) -> int:
    """Raw points in InfluxDB, one per stored event (counted as cityiot.reconcile counts them)."""
    measurements = [*CHANNEL_MEASUREMENTS.values(), STATUS_MEASUREMENT]
    return sum(count_points(target, measurement) for measurement in measurements)


# -- publishers --------------------------------------------------------------------------------
def valid_messages(fleet: Fleet, *, seed: int, locator: Any, prefix: str) -> Iterator[SimMessage]:
    """The simulator's generator, valid JSON only (no malformed, no NMEA: one line each)."""
    sim = Simulation(
        fleet, seed=seed, locator=locator, bad_ratio=0.0, nmea_ratio=0.0, prefix=prefix
    )
    return sim.messages()


class PahoPublisher:
    """The simulator's own publisher (paho, QoS 1, bounded window) fed by its generator.

    A step's messages are generated before it starts (their ``ts`` is then up to a step old,
    well within what the collectors accept): generation costs ~150 µs/message here, which would
    cap one thread near 4,000 msg/s and hide paho's own speed, the figure the peer is given for.
    """

    name = "paho"

    def __init__(self, target: MqttTarget, messages: Iterator[SimMessage]) -> None:
        self.target = target
        self.messages = messages

    def step(self, rate: float, count: int) -> Sent:
        times: list[float] = []
        messages = [next(self.messages) for _ in range(count)]
        cpu0 = time.thread_time()
        with Publisher(
            self.target, on_ack=lambda _m: None, window=PAHO_WINDOW, client_id=_client_id()
        ) as pub:
            start = time.monotonic()
            for sent, msg in enumerate(messages):
                ahead = start + sent / rate - time.monotonic()
                if ahead > PACING_SLACK_S:
                    pub.idle(ahead)
                times.append(time.monotonic())
                pub.publish(msg)
            unacked = pub.drain()
        return Sent(times, unacked, time.thread_time() - cpu0)


@dataclass
class _Topic:
    topic: str
    templates: list[dict[str, Any]]
    seq: int = 0
    used: int = field(default=0)

    def line(self, now: datetime, now_ms: int) -> bytes:
        body = dict(self.templates[self.used % len(self.templates)])
        self.used += 1
        body["ts"] = now_ms if isinstance(body["ts"], int) else format_ts(now)
        body["seq"] = self.seq
        self.seq += 1
        return json.dumps(body, separators=(",", ":")).encode() + b"\n"


class LinePublisher:
    """``mosquitto_pub -l -q 1``, one process per device topic, fed pre-generated lines.

    The lines are the simulator's payloads (its busiest topic of each of the ``topics`` busiest
    devices), re-numbered with gap-free seqs per device and stamped at generation time, just
    before the step. A feeder paced at the rate writes what is due every tick to the processes'
    stdin, round robin; a line's publish time is its write time. mosquitto_pub reports no
    acknowledgements: what it failed to deliver shows as lost.
    """

    name = "mosquitto_pub"

    def __init__(self, port: int, messages: Iterator[SimMessage], topics: int, log: Path) -> None:
        self.port = port
        self.log = log
        by_topic: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for msg in (m for _, m in zip(range(TEMPLATE_SAMPLE), messages, strict=False)):
            if not msg.topic.endswith("/status"):
                by_topic[msg.topic].append(json.loads(msg.payload))
        busiest: dict[str, str] = {}
        for topic in sorted(by_topic, key=lambda t: -len(by_topic[t])):
            busiest.setdefault(topic.split("/")[3], topic)  # <prefix>/<facility>/<vendor>/<id>/
        chosen = list(busiest.values())[:topics]
        if len(chosen) < topics:
            raise SystemExit(f"only {len(chosen)} devices to publish on: raise --devices")
        self.topics = [_Topic(t, by_topic[t]) for t in chosen]

    def step(self, rate: float, count: int) -> Sent:
        k = len(self.topics)
        if -(-count // k) > MOSQUITTO_PUB_MAX_LINES:
            raise SystemExit(
                f"{count} lines over {k} mosquitto_pub processes exceed {MOSQUITTO_PUB_MAX_LINES} "
                "each (FACTS.md: disconnected beyond 65,535 in flight): raise --pub-topics"
            )
        now = datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        lines = [self.topics[i % k].line(now, now_ms) for i in range(count)]
        with self.log.open("ab") as err:
            procs = [
                subprocess.Popen(
                    [*MOSQUITTO_PUB, "-p", str(self.port), "-t", t.topic, "-i", _client_id()],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    bufsize=0,
                )
                for t in self.topics
            ]
        time.sleep(MOSQUITTO_PUB_CONNECT_S)
        cpu0, children0 = time.thread_time(), reaped_children_cpu()
        times = [0.0] * count
        start = time.monotonic()
        sent = 0
        while sent < count:
            now_s = time.monotonic()
            due = min(count, int((now_s - start) * rate) + 1)
            if due <= sent:
                time.sleep(min(FEED_TICK_S, start + sent / rate - now_s))
                continue
            chunks: list[list[bytes]] = [[] for _ in procs]
            for i in range(sent, due):
                chunks[i % k].append(lines[i])
                times[i] = now_s
            for proc, chunk in zip(procs, chunks, strict=True):
                if chunk and proc.stdin is not None:
                    proc.stdin.write(b"".join(chunk))
            sent = due
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        codes = [proc.wait(120) for proc in procs]
        if any(codes):
            raise SystemExit(f"mosquitto_pub exit codes {codes}; see {self.log}")
        cpu = time.thread_time() - cpu0 + reaped_children_cpu() - children0
        return Sent(times, 0, cpu)
