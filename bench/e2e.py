"""Benchmark: end-to-end throughput and latency, publish → queryable in InfluxDB, at rising rates.

    .venv/bin/python bench/e2e.py                                   # full run, both publishers
    .venv/bin/python bench/e2e.py --rates 500,1000 --seconds 8      # quick check
    .venv/bin/python bench/e2e.py --publisher mosquitto_pub --profile

Everything runs on this machine, QoS 1. Each publisher's series gets fresh local servers (the
``cityiot services`` runner on free ports, a temporary run directory; Tansu keeps every record in
memory) and a ``Platform``: one collector and one streams worker as in ``cityiot up``, with a
unique database, topics and topic prefix, the per-device rate limit raised out of the way (this
measures the pipeline, not flood protection) and valid messages only.

Publishers:
  paho           the simulator's publisher (``simulator.publisher``) in this process, fed
                 messages its generator made before each step;
  mosquitto_pub  one ``mosquitto_pub -l -q 1`` per device topic (``--pub-topics``), fed lines of
                 the simulator's payloads pre-generated before each step, so the publisher is not
                 what limits: the pipeline's own ceiling shows.

Method, per step (rate r for ``--seconds`` s, i.e. r × seconds messages):
  publish time   recorded per message by the publisher (paho: just before ``publish``;
                 mosquitto_pub: when its line was written to the process's stdin);
  visible        the worker's ``cityiot_stream_events_total{result=accepted|late}``, which counts
                 an event only after InfluxDB accepted its raw point, polled every ``--poll`` s;
  latency        the k-th message published is taken as queryable at the first poll whose count
                 reached k (FIFO approximation: messages overtake each other across partitions);
                 a poll sees a message up to one interval late, so latencies are overstated by
                 half an interval on average;
  in Kafka       the same, from the collector's ``cityiot_collector_records_produced_total``
                 (events Kafka acknowledged): the collector's share of the latency;
  end to end     the rate storage kept up with: sent rate / (1 + s), s the least-squares slope
                 of latency against publish time (0 when keeping up; a pipeline taking C of r
                 msg/s builds a backlog, s = r/C - 1; a negative s, catching up, counts as 0),
                 times the share stored. Unlike "stored / time from first to last visible" it
                 is not quantised by the worker's batch cadence (0.04-1.5 s here), but the
                 saw-tooth still moves s by ~cadence/step: keep steps ≥ 15 s;
  lost           published − new raw points counted in InfluxDB after the worker drained;
  CPU            utime+stime per process over the step and its drain (/proc/<pid>/stat), less
                 what it burns idle (measured for 5 s with the poller running), per message:
                 where each microsecond goes. "publisher" is this process's publishing thread
                 (generation excluded) plus the mosquitto_pub processes;
  worker batches from ``cityiot_stream_batch_seconds``: how many fetches, how big, how long.
A series stops at saturation: end-to-end rate < 90 % of offered, or p99 > 10 s (a growing
backlog). A step meets the target when p99 ≤ 2 s and nothing is lost; "publisher-limited" when
the publisher could not send 90 % of the offered rate.
``--profile`` repeats the last step of each series with py-spy on the collector and the worker
and prints their busiest functions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and bench/streams.py and
# bench/simulator.py would shadow the packages: drop it, and reach the helpers as bench.e2e_support.
_HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE.parent)]

from bench.e2e_support import (  # noqa: E402
    PROCESSES,
    TARGET_P99_S,
    LinePublisher,
    PahoPublisher,
    Sent,
    Step,
    Visibility,
    cpu_seconds,
    kafka_events,
    latencies,
    latency_slope,
    load,
    machine,
    percentile,
    py_spy,
    start_profile,
    stored_events,
    stored_points,
    stream_batches,
    top_functions,
    valid_messages,
)
from cityiot.local.platform import Platform  # noqa: E402
from cityiot.local.ports import free_port  # noqa: E402
from cityiot.local.runner import LocalServers  # noqa: E402
from core.settings import Settings  # noqa: E402
from schemas import DistrictIndex  # noqa: E402
from simulator.fleet import build_fleet  # noqa: E402
from simulator.publisher import MqttTarget  # noqa: E402

# Rate limit per device far above any rate here: 8,000 msg/s over 16 topics is 500 per device.
RATE_LIMIT_PER_S = 1_000_000
# The warm-up step: topics created, consumer group joined, first fetch done (3 s with the short
# group timeouts of cityiot.local.platform; a cold InfluxDB adds its database creation).
WARMUP_RATE, WARMUP_MESSAGES, WARMUP_TIMEOUT_S = 200.0, 200, 120.0
# Long enough to average the worker's timers (stats every 10 s, health every 30 s: not all).
IDLE_S = 5.0
# After publishing, wait for the worker to store everything; give up after this long without
# progress (what never arrives is reported as lost), or this long in all.
DRAIN_QUIET_S, DRAIN_MAX_S = 15.0, 300.0
# The peer to beat (issue 8): a Node-RED flow on this machine, losing nothing.
PEER = {"paho": 6_000, "mosquitto_pub": 14_000}


@dataclass
class Series:
    """One publisher's run: its servers, platform and publisher, and the figures of its steps."""

    name: str
    servers: LocalServers
    platform: Platform
    publisher: PahoPublisher | LinePublisher
    poll: float
    steps: list[Step] = field(default_factory=list)
    profiles: dict[str, tuple[int, list[tuple[str, int, int]]]] = field(default_factory=dict)
    idle: dict[str, float] = field(default_factory=dict)
    keep: Path | None = None  # --run-dir: each step's samples are written there

    def pids(self) -> dict[str, int]:
        servers = {s.name: s.pid for s in self.servers.state().servers}
        children = self.platform.children.children
        return {
            "mosquitto": servers["mqtt"],
            "collector": children["collector"].proc.pid,  # type: ignore[union-attr]
            "tansu": servers["kafka"],
            "stream": children["stream"].proc.pid,  # type: ignore[union-attr]
            "influxd": servers["influxdb"],
        }

    def ports(self) -> tuple[int, int]:
        return self.platform.stream_metrics_port, self.platform.collector_metrics_port

    def visible_now(self) -> int:
        return stored_events(self.platform.stream_metrics_port) or 0

    def drain(self, poller: Visibility, target: int) -> None:
        """Until the worker stored ``target`` events, or progress stopped (the rest is lost)."""
        started = last_change = time.monotonic()
        seen = -1
        while poller.last < target and time.monotonic() - started < DRAIN_MAX_S:
            self.platform.children.check()
            if poller.last != seen:
                seen, last_change = poller.last, time.monotonic()
            elif time.monotonic() - last_change > DRAIN_QUIET_S:
                break
            time.sleep(0.1)

    def measure_idle(self, seconds: float) -> None:
        """CPU/s of each process with nothing to do but the poller's scrapes, subtracted from
        the steps' figures: at low rates fixed costs (timers, scrapes) would swamp µs/msg."""
        pids = self.pids()
        poller = Visibility(*self.ports(), self.poll)
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        wall0 = time.monotonic()
        poller.start()
        time.sleep(seconds)
        poller.stop()
        wall = time.monotonic() - wall0
        self.idle = {name: (cpu_seconds(pid) - cpu0[name]) / wall for name, pid in pids.items()}
        print(
            f"{self.name:>13} idle cpu ms/s: "
            + "  ".join(f"{k} {v * 1e3:.0f}" for k, v in self.idle.items()),
            flush=True,
        )

    def warm_up(self) -> None:
        sent = self.publisher.step(WARMUP_RATE, WARMUP_MESSAGES)
        deadline = time.monotonic() + WARMUP_TIMEOUT_S
        while self.visible_now() < len(sent.times):
            self.platform.children.check()
            if time.monotonic() > deadline:
                raise SystemExit(f"warm-up: nothing stored; logs in {self.platform.run_dir}")
            time.sleep(0.2)

    def measure(self, rate: float, seconds: float, *, profile_dir: Path | None = None) -> Step:
        pids = self.pids()
        influx = self.platform.influx()
        base, stored0 = self.visible_now(), stored_points(influx)
        kafka_base = kafka_events(self.platform.collector_metrics_port) or 0
        batches0 = stream_batches(self.platform.stream_metrics_port)
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        spies = {}
        if profile_dir is not None:
            spies = {
                name: (start_profile(pids[name], seconds, profile_dir / f"{name}.txt"), name)
                for name in ("collector", "stream")
            }
        poller = Visibility(*self.ports(), self.poll)
        poller.start()
        wall0 = time.monotonic()
        sent: Sent = self.publisher.step(rate, max(1, round(rate * seconds)))
        self.drain(poller, base + len(sent.times))
        poller.stop()
        wall = time.monotonic() - wall0
        cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
        busy = sum(cpu.values()) + sent.cpu_s
        cpu = {name: max(0.0, v - self.idle.get(name, 0.0) * wall) for name, v in cpu.items()}
        stored = stored_points(influx) - stored0
        batches1 = stream_batches(self.platform.stream_metrics_port)
        batches = batches1[0] - batches0[0]
        for proc, name in spies.values():
            proc.wait(60)
            assert profile_dir is not None
            self.profiles[name] = top_functions(profile_dir / f"{name}.txt", 12)
        n = len(sent.times)
        if self.keep is not None:  # raw figures, for plots or a second look
            dump = {"publish": sent.times, "kafka": poller.kafka, "stored": poller.stored}
            dump |= {"kafka_base": kafka_base, "stored_base": base}
            (self.keep / f"step-{rate:.0f}-{len(self.steps)}.json").write_text(json.dumps(dump))
        lat = latencies(sent.times, poller.stored, base)[0]
        slope = latency_slope(sent.times, lat)
        lat.sort()
        to_kafka = sorted(latencies(sent.times, poller.kafka, kafka_base)[0])
        sent_rate = (n - 1) / (sent.times[-1] - sent.times[0]) if n > 1 else rate
        cpu_us = {"publisher": sent.cpu_s / n * 1e6}
        cpu_us |= {name: cpu[name] / n * 1e6 for name in PROCESSES[1:]}
        return Step(
            publisher=self.name,
            offered=rate,
            published=n,
            sent_rate=sent_rate,
            visible=len(lat),
            e2e_rate=sent_rate / (1 + max(0.0, slope)) * len(lat) / n,
            p50=percentile(lat, 50),
            p95=percentile(lat, 95),
            p99=percentile(lat, 99),
            worst=lat[-1] if lat else float("nan"),
            kafka_p50=percentile(to_kafka, 50),
            kafka_p99=percentile(to_kafka, 99),
            lost=n - stored,
            unacked=sent.unacked,
            load=load(),
            cpu_us=cpu_us,
            cores_busy=busy / wall,
            profiled=profile_dir is not None,
            batches=int(batches),
            batch_ms=(batches1[1] - batches0[1]) / batches * 1e3 if batches else 0.0,
        )


def run_series(name: str, args: argparse.Namespace, tmp: Path) -> Series:
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench{tag}"
    servers = LocalServers(
        run_dir=tmp / "servers",
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
        database=f"bench_{tag}",
    )
    with servers:
        settings = Settings(
            mqtt={"url": servers.mqtt_url, "topic_prefix": prefix},
            kafka={
                "bootstrap_servers": servers.kafka_bootstrap,
                "events_topic": f"bench.events.{tag}",
                "deadletter_topic": f"bench.deadletter.{tag}",
                "alerts_topic": f"bench.alerts.{tag}",
            },
            influxdb={"url": servers.influxdb_url, "database": f"bench_{tag}"},
            run_dir=tmp / "run",
            collector={
                "client_id": f"bench-collector-{tag}",
                "rate_limit_per_s": RATE_LIMIT_PER_S,
                "rate_limit_burst": RATE_LIMIT_PER_S,
            },
            stream={"app_id": f"bench-streams-{tag}"},
        )
        platform = Platform(settings, tmp / "platform")
        locator = DistrictIndex.load()
        fleet = build_fleet(args.devices, seed=args.seed, locator=locator)
        fleet.registry().write_csv(platform.registry_path)
        messages = valid_messages(fleet, seed=args.seed, locator=locator, prefix=prefix)
        publisher: PahoPublisher | LinePublisher = (
            PahoPublisher(MqttTarget("127.0.0.1", servers.mqtt_port), messages)
            if name == "paho"
            else LinePublisher(servers.mqtt_port, messages, args.pub_topics, tmp / "pub.log")
        )
        series = Series(name, servers, platform, publisher, args.poll)
        series.keep = tmp if args.run_dir is not None else None
        try:
            platform.start_stream()
            platform.start_collector()
            platform.wait_collector_connected()
            series.warm_up()
            series.measure_idle(IDLE_S)
            for rate in args.rates:
                step = series.measure(rate, args.seconds)
                series.steps.append(step)
                print(step.line(), flush=True)
                if step.saturated:
                    break
            if args.profile and series.steps and py_spy() is None:
                print(
                    "py-spy not found (pip install py-spy): no profile; per-stage figures: "
                    "bench/collector.py and bench/streams.py"
                )
            elif args.profile and series.steps:
                step = series.measure(series.steps[-1].offered, args.seconds, profile_dir=tmp)
                series.steps.append(step)
                print(step.line(), flush=True)
        finally:
            platform.stop()
    return series


def report(all_series: list[Series], args: argparse.Namespace, started: str) -> None:
    print("\n## End-to-end: publish → queryable in InfluxDB (QoS 1, one collector, one worker)\n")
    print(f"Machine: {started}; at the end: load average {load()}.")
    print(
        f"Steps of {args.seconds:g} s; visibility polled every {args.poll * 1e3:.0f} ms (latency "
        "FIFO-approximated, overstated by half a poll on average); valid JSON only."
    )
    print(
        "\n| publisher | offered msg/s | sent msg/s | end-to-end msg/s | p50 ms | p95 ms "
        "| p99 ms | max ms | in Kafka p50/p99 ms | published | lost | load avg | |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
    for s in (step for series in all_series for step in series.steps):
        print(
            f"| {s.publisher} | {s.offered:,.0f} | {s.sent_rate:,.0f} | {s.e2e_rate:,.0f} "
            f"| {s.p50 * 1e3:,.0f} | {s.p95 * 1e3:,.0f} | {s.p99 * 1e3:,.0f} "
            f"| {s.worst * 1e3:,.0f} | {s.kafka_p50 * 1e3:,.0f}/{s.kafka_p99 * 1e3:,.0f} "
            f"| {s.published:,} | {s.lost:,} | {s.load} | {s.verdict} |"
        )
    print(
        "\n### CPU per message, by process (µs of CPU time / message over step and drain, less "
        "idle; cores busy: all CPU, idle included)\n"
    )
    print(
        f"| publisher | offered msg/s | {' | '.join(PROCESSES)} | total | cores busy "
        "| worker batches | events/batch | ms/batch |"
    )
    print("|---|--:|" + "--:|" * (len(PROCESSES) + 5))
    for s in (step for series in all_series for step in series.steps):
        cells = " | ".join(f"{s.cpu_us[p]:,.0f}" for p in PROCESSES)
        total = sum(s.cpu_us.values())
        print(
            f"| {s.publisher} | {s.offered:,.0f} | {cells} | {total:,.0f} | {s.cores_busy:.2f} "
            f"| {s.batches} | {s.visible / max(1, s.batches):,.0f} | {s.batch_ms:,.0f} |"
        )
    print("\n### Against the peer (Node-RED on this machine, nothing lost)\n")
    for series in all_series:
        steps = [s for s in series.steps if not s.profiled]
        met = max((s.e2e_rate for s in steps if s.verdict == "meets target"), default=0.0)
        kept = max((s.e2e_rate for s in steps if not s.saturated and s.lost == 0), default=0.0)
        print(
            f"- {series.name}: {met:,.0f} msg/s with p99 ≤ {TARGET_P99_S:g} s and nothing lost; "
            f"{kept:,.0f} msg/s kept up, nothing lost (peer ~{PEER[series.name]:,} msg/s)"
        )
    for series in all_series:
        for name, (samples, top) in series.profiles.items():
            print(f"\n### py-spy, {series.name} series, {name} ({samples} samples, 100 Hz)\n")
            print("| function | self % | incl. % |\n|---|--:|--:|")
            for fn, own, incl in top:
                print(f"| `{fn}` | {own / samples:.1%} | {incl / samples:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,1000,2000,4000,8000", help="msg/s, rising")
    parser.add_argument("--seconds", type=float, default=20.0, help="publishing time per step")
    parser.add_argument("--publisher", choices=("paho", "mosquitto_pub", "both"), default="both")
    parser.add_argument("--devices", type=int, default=200, help="simulated fleet (paho)")
    parser.add_argument("--pub-topics", type=int, default=16, help="mosquitto_pub processes")
    parser.add_argument("--poll", type=float, default=0.1, help="visibility poll interval, s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="py-spy the last step again")
    parser.add_argument("--run-dir", type=Path, help="keep logs and each step's samples here")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    names = ["paho", "mosquitto_pub"] if args.publisher == "both" else [args.publisher]
    started = machine()
    print(f"machine: {started}", flush=True)
    all_series = []
    for name in names:
        if args.run_dir is not None:
            all_series.append(run_series(name, args, args.run_dir.resolve() / name))
            continue
        with tempfile.TemporaryDirectory(prefix=f"cityiot-e2e-{name}-") as tmp:
            all_series.append(run_series(name, args, Path(tmp)))
    report(all_series, args, started)


if __name__ == "__main__":
    main()
