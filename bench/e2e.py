"""Benchmark: end-to-end throughput and latency, publish → queryable in InfluxDB, at rising rates.

    .venv/bin/python bench/e2e.py                                   # full run, both publishers
    .venv/bin/python bench/e2e.py --rates 500,1000 --seconds 8      # quick check
    .venv/bin/python bench/e2e.py --publisher mosquitto_pub --profile --no-peer

Everything runs on this machine, QoS 1. Each publisher's series gets fresh local servers (the
``cityiot services`` runner on free ports, a temporary run directory, the default local Kafka)
and a ``Platform``: one collector and one streams worker as in ``cityiot up``, with a unique
database, topics and topic prefix, the per-device rate limit raised out of the way (this
measures the pipeline, not flood protection) and valid messages only.

The peer (``bench/e2e_peer.py``; ``--no-peer`` skips it): after each cityiot series, once its
collector and worker stopped, a Node-RED batch flow (MQTT → json → join 1000 / 1 s → points →
InfluxDB batch) on the same Mosquitto and InfluxDB, with its own topic prefix and database, is
measured the same way at the same steps: the same publisher code and messages, latency from the
flow's count of points InfluxDB accepted, lost counted in InfluxDB, CPU and RSS of the Node-RED
process. The report gives ratio = cityiot / Node-RED per publisher and step (n/a when the peer
could not run: Node.js or npm missing, npm install failed). Node-RED is installed once into
``$XDG_CACHE_HOME/cityiot/bench/node-red``.

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
  peak RSS       VmHWM of the pipeline's processes (collector + Kafka + worker; Node-RED);
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and bench/streams.py and
# bench/simulator.py would shadow the packages: drop it, and reach the helpers as bench.e2e_support.
_HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE.parent)]

from bench.e2e_peer import PeerRun, PeerSeries  # noqa: E402
from bench.e2e_peer import report as report_peer  # noqa: E402
from bench.e2e_profile import py_spy, start_profile, top_functions  # noqa: E402
from bench.e2e_support import (  # noqa: E402
    PIPELINE,
    PROCESSES,
    LinePublisher,
    PahoPublisher,
    Sent,
    Step,
    Visibility,
    cpu_seconds,
    delivery,
    drain,
    kafka_events,
    latencies,
    load,
    machine,
    peak_rss_mb,
    percentile,
    stored_events,
    stored_points,
    stream_batches,
    valid_messages,
)
from bench.nodered import NodeRedUnavailable, ensure_installed  # noqa: E402
from cityiot.local.platform import Platform  # noqa: E402
from cityiot.local.ports import free_port  # noqa: E402
from cityiot.local.runner import LocalServers  # noqa: E402
from core.settings import Settings  # noqa: E402
from schemas import DistrictIndex  # noqa: E402
from simulator.fleet import build_fleet  # noqa: E402
from simulator.message import SimMessage  # noqa: E402
from simulator.publisher import MqttTarget  # noqa: E402

# Rate limit per device far above any rate here: 8,000 msg/s over 16 topics is 500 per device.
RATE_LIMIT_PER_S = 1_000_000
# The warm-up step: topics created, consumer group joined, first fetch done (3 s with the short
# group timeouts of cityiot.local.platform; a cold InfluxDB adds its database creation).
WARMUP_RATE, WARMUP_MESSAGES, WARMUP_TIMEOUT_S = 200.0, 200, 120.0
# Long enough to average the worker's timers (stats every 10 s, health every 30 s: not all).
IDLE_S = 5.0


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
    peer: PeerSeries | None = None

    def pids(self) -> dict[str, int]:
        servers = {s.name: s.pid for s in self.servers.state().servers}
        children = self.platform.children.children
        return {
            "mosquitto": servers["mqtt"],
            "collector": children["collector"].proc.pid,  # type: ignore[union-attr]
            "kafka": servers["kafka"],
            "stream": children["stream"].proc.pid,  # type: ignore[union-attr]
            "influxd": servers["influxdb"],
        }

    def poller(self) -> Visibility:
        """Polls the worker's count of stored events and the collector's of events in Kafka."""
        stream, collector = self.platform.stream_metrics_port, self.platform.collector_metrics_port
        return Visibility(lambda: stored_events(stream), lambda: kafka_events(collector), self.poll)

    def visible_now(self) -> int:
        return stored_events(self.platform.stream_metrics_port) or 0

    def measure_idle(self, seconds: float) -> None:
        """CPU/s of each process with nothing to do but the poller's scrapes, subtracted from
        the steps' figures: at low rates fixed costs (timers, scrapes) would swamp µs/msg."""
        pids = self.pids()
        poller = self.poller()
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
        poller = self.poller()
        poller.start()
        wall0 = time.monotonic()
        sent: Sent = self.publisher.step(rate, max(1, round(rate * seconds)))
        drain(poller, base + len(sent.times), self.platform.children.check)
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
        lat, sent_rate, e2e_rate = delivery(sent.times, poller.stored, base, rate)
        to_kafka = sorted(latencies(sent.times, poller.kafka, kafka_base)[0])
        cpu_us = {"publisher": sent.cpu_s / n * 1e6}
        cpu_us |= {name: cpu[name] / n * 1e6 for name in PROCESSES[1:]}
        return Step(
            publisher=self.name,
            offered=rate,
            published=n,
            sent_rate=sent_rate,
            visible=len(lat),
            e2e_rate=e2e_rate,
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
            rss_mb=sum(peak_rss_mb(pids[name]) for name in PIPELINE),
        )


def make_publisher(
    name: str, mqtt_port: int, messages: Iterator[SimMessage], args: argparse.Namespace, log: Path
) -> PahoPublisher | LinePublisher:
    if name == "paho":
        return PahoPublisher(MqttTarget("127.0.0.1", mqtt_port), messages)
    return LinePublisher(mqtt_port, messages, args.pub_topics, log)


def run_series(name: str, args: argparse.Namespace, tmp: Path, peer: Path | str | None) -> Series:
    """cityiot's series for one publisher, then the peer's on the same servers: ``peer`` is
    Node-RED's red.js, why the peer cannot run, or None (--no-peer)."""
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
        publisher = make_publisher(name, servers.mqtt_port, messages, args, tmp / "pub.log")
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
        if isinstance(peer, str):
            series.peer = PeerSeries(name, error=peer)
        elif peer is not None:
            # Same seed, same fleet: the same messages as cityiot's, under the peer's prefix.
            peer_prefix = f"peer{tag}"
            messages = valid_messages(fleet, seed=args.seed, locator=locator, prefix=peer_prefix)
            log = tmp / "peer-pub.log"
            peer_publisher = make_publisher(name, servers.mqtt_port, messages, args, log)
            run = PeerRun(
                name, peer, tmp / "node-red", servers, peer_publisher, peer_prefix, args.poll
            )
            rates = [s.offered for s in series.steps if not s.profiled]
            series.peer = run.run(rates, args.seconds, idle_s=IDLE_S)
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
    report_peer([(series.steps, series.peer) for series in all_series if series.peer])
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
    parser.add_argument(
        "--no-peer", dest="peer", action="store_false", help="skip the Node-RED peer series"
    )
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    names = ["paho", "mosquitto_pub"] if args.publisher == "both" else [args.publisher]
    started = machine()
    print(f"machine: {started}", flush=True)
    peer: Path | str | None = None
    if args.peer:
        try:
            peer = ensure_installed()
        except NodeRedUnavailable as exc:
            peer = str(exc)
            print(f"peer: Node-RED not run: {peer}; every ratio will be n/a", flush=True)
    all_series = []
    for name in names:
        if args.run_dir is not None:
            all_series.append(run_series(name, args, args.run_dir.resolve() / name, peer))
            continue
        with tempfile.TemporaryDirectory(prefix=f"cityiot-e2e-{name}-") as tmp:
            all_series.append(run_series(name, args, Path(tmp), peer))
    report(all_series, args, started)


if __name__ == "__main__":
    main()
