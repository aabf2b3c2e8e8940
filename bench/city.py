"""Benchmark: a city-sized fleet through the real chain, at rising rates or for a long soak.

    .venv/bin/python bench/city.py                                  # 1000,2000,3600,6000 msg/s
    .venv/bin/python bench/city.py --rates 1000,3600 --seconds 30   # quick check
    .venv/bin/python bench/city.py --soak 120 --rate 3600           # two minutes, a line a minute
    .venv/bin/python bench/city.py --soak 1800 --rate 3600          # the half-hour soak

Ningbo is ~10,000 vending machines, ~5,000 recycling stations and ~100,000 shared bikes: ~3,600
msg/s from ~115,000 devices. The other benches send from 80-2,000 devices a hundred times faster
than real ones; here every device reports about as often as a real one, so the collector's
per-device limiter, the worker's device state and its changelog carry a city's cardinality.

What runs: the local servers on free ports in a temporary directory (Apache Kafka by default,
``--kafka tansu`` for Tansu), then ``cityiot.local.platform.Platform`` with one collector and one
streams worker, all settings at their defaults (the per-device rate limit included) but for
unique topics, database and topic prefix.

Fleet: ``--devices`` (115,000) of the simulator's city mix (``simulator.fleet.CITY_MIX``), its
registry written for the collector and the worker, its messages from ``simulator.engine``
(valid JSON only). ``--rate`` sets the total; each device then reports every devices / rate
seconds on average: the figure is printed per facility (at 3,600 msg/s a bike every ~30 s, a
vending machine or a station every ~2.5 minutes).

Load generator (``bench/city_support.py``): the messages of a step are generated before it
starts, as ready-made MQTT 3.1.1 QoS 1 packets spread by device over ``--publishers`` processes
that stamp ``ts`` at send time and pace themselves on the messages' schedule (message k at
k / rate s). A message counts as published once its PUBACK arrived; the truth file
(``simulator.truth``) and the per-measurement counts are built from those. Its ceiling (all
packets at once, Mosquitto with nobody subscribed, collector and worker not started yet) is
printed once at the start.

Order: ceiling; warm-up, in two parts: the first ``WARMUP_FIRST`` messages, then the fleet's
boot at ``--warmup-rate`` until every device has been heard from once (worker RSS before and
after, over the devices, is the worker's memory per device); ``IDLE_S`` idle, one health
interval of the worker: the CPU the fleet costs with no message arriving (device_health points
for every device every 30 s, timers), printed, not subtracted; then the steps or the soak.

Per step (``--seconds`` long at each of ``--rates``; stops at saturation):
  sent        messages / time from first to last send;
  stored      the rate storage kept up with: sent / (1 + slope of latency against send time),
              times the share stored (bench/e2e.py's "end to end");
  lost        acknowledged by Mosquitto − new raw points in InfluxDB after the worker drained;
  p50/p99     latency publish → counted by the worker as stored in InfluxDB, bench/e2e.py's
              count-based method (FIFO; the k-th message sent is taken as visible at the first
              poll of the worker's counter that reached k; ``--poll`` s apart);
  CPU         µs per message of each process (utime + stime over step and drain / messages,
              the fleet's fixed cost included: at city scale it is part of the price), and
              cores busy (the same CPU over the same wall time);
  RSS         of the collector and the worker at the end of the step.
Soak (``--soak SECONDS`` at ``--rate``): the whole load is generated first (~40,000 msg/s here;
1,800 s at 3,600 msg/s is 6.5 million messages, ~3 minutes and ~2 GB of packets in the run
directory), then a line a minute: collector and worker RSS, the events topic's lag of the
worker's consumer group (high watermarks − committed offsets), p99 of the minute's messages
(``>`` when some are not visible yet: their age then counts, a lower bound). At the end: lost,
RSS growth from the first to the last minute, and the worker's state per device: RSS growth over
the devices during the warm-up, and the mean size of the newest device-state record per device in
the tail of the state table's changelog (``DeviceState.dump()``). Every run ends with
``cityiot.reconcile`` against the truth file (the warm-up's messages included). (Past ~400 lines:
one bench, two files, as bench/e2e.py.)
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and bench/streams.py and
# bench/simulator.py would shadow the packages: drop it, and reach the helpers as bench.*.
_HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE.parent)]

from bench.city_support import (  # noqa: E402
    MEASUREMENTS,
    LagProbe,
    Load,
    Publishers,
    device_state_sizes,
    rss_bytes,
    sorted_times,
    window_latency,
    write_load,
)
from bench.e2e_support import (  # noqa: E402
    MIN_KEEP_UP,
    STOP_P99_S,
    Visibility,
    cpu_seconds,
    drain,
    latencies,
    latency_slope,
    load,
    machine,
    percentile,
    stored_events,
)
from cityiot.local.platform import Platform  # noqa: E402
from cityiot.local.ports import free_port  # noqa: E402
from cityiot.local.runner import LocalServers  # noqa: E402
from cityiot.reconcile import count_points  # noqa: E402
from core.settings import Settings  # noqa: E402
from schemas import DistrictIndex  # noqa: E402
from simulator.engine import Simulation  # noqa: E402
from simulator.fleet import MIXES, build_fleet  # noqa: E402
from simulator.truth import TruthBuilder  # noqa: E402

# Ceiling: a fleet of its own (another prefix, nobody subscribed), this many messages.
CEILING_DEVICES, CEILING_MESSAGES = 20_000, 300_000
# Warm-up part one: a few thousand devices' boot, slowly: the worker joins its group, creates
# the database and loads its code before its RSS is taken as the "no devices yet" baseline.
WARMUP_FIRST, WARMUP_FIRST_RATE = 3_000, 500.0
# One health interval of the worker (stream.health_interval_s), so its per-device points count.
IDLE_S = 30.0
# The warm-up's batches must be stored in full within this long.
WARMUP_MAX_S = 600.0
# A soak minute's line waits this long past the minute for its last messages to be stored.
SOAK_GRACE_S = 5.0
# Records read per changelog partition to size the device state (newest record per device).
STATE_TAIL = 100_000
# Reconciling: the ``*_1m`` roll-ups of the last minute may trail the raw points briefly.
RECONCILE_PAUSE_S, RECONCILE_MAX_S = 5.0, 180.0
PROCESSES = ("collector", "kafka", "worker", "influxd", "mosquitto", "publishers")
MB = 1 << 20


@dataclass
class CityStep:
    offered: float
    published: int
    sent_rate: float
    stored_rate: float
    lost: int
    lost_by: dict[str, int]
    p50: float
    p99: float
    cpu_us: dict[str, float]
    cores: dict[str, float]
    rss: dict[str, int]
    interval: dict[str, float]
    devices: int
    unacked: int
    sim_speed: float  # simulated seconds per second: the behaviours' intervals divided by this
    load: str = field(default_factory=load)

    @property
    def saturated(self) -> bool:
        return self.stored_rate < MIN_KEEP_UP * self.offered or not self.p99 <= STOP_P99_S

    def line(self) -> str:
        every = "  ".join(f"{f} {s:.0f} s" for f, s in sorted(self.interval.items()))
        lost_by = ", ".join(f"{k} {v}" for k, v in self.lost_by.items() if v)
        cpu = "  ".join(f"{k} {v:,.0f}" for k, v in self.cpu_us.items())
        cores = "  ".join(f"{k} {v:.2f}" for k, v in self.cores.items())
        return (
            f"{self.offered:>7,.0f}/s  sent {self.sent_rate:7,.0f}/s  stored "
            f"{self.stored_rate:7,.0f}/s  lost {self.lost}{f' ({lost_by})' if lost_by else ''}"
            f"  p50 {self.p50 * 1e3:,.0f} ms  p99 {self.p99 * 1e3:,.0f} ms  unacked "
            f"{self.unacked}  load {self.load}"
            f"{'  SATURATED' if self.saturated else ''}\n"
            f"{'':10}{self.published:,} messages from {self.devices:,} devices; a device sends "
            f"every: {every}; simulated time ×{self.sim_speed:.1f}\n"
            f"{'':10}cpu µs/msg: {cpu}\n{'':10}cores busy: {cores}\n"
            f"{'':10}RSS MB: collector {self.rss['collector'] / MB:,.0f}  worker "
            f"{self.rss['worker'] / MB:,.0f}"
        )


class City:
    """The servers, the platform, the fleet's simulation and the publishers of one run."""

    def __init__(self, args: argparse.Namespace, tmp: Path, servers: LocalServers) -> None:
        self.args = args
        self.tmp = tmp
        self.servers = servers
        tag = uuid.uuid4().hex[:8]
        self.prefix = f"city{tag}"
        self.settings = Settings(
            mqtt={"url": servers.mqtt_url, "topic_prefix": self.prefix},
            kafka={
                "bootstrap_servers": servers.kafka_bootstrap,
                "events_topic": f"bench.events.{tag}",
                "deadletter_topic": f"bench.deadletter.{tag}",
                "alerts_topic": f"bench.alerts.{tag}",
            },
            influxdb={"url": servers.influxdb_url, "database": f"city_{tag}"},
            run_dir=tmp / "run",
            collector={"client_id": f"bench-city-collector-{tag}"},
            stream={"app_id": f"bench-city-{tag}"},
        )
        self.platform = Platform(self.settings, tmp / "platform")
        self.locator = DistrictIndex.load()
        started = time.monotonic()
        fleet = build_fleet(args.devices, seed=args.seed, locator=self.locator, mix=MIXES[args.mix])
        fleet.registry().write_csv(self.platform.registry_path)
        self.fleet = Counter(d.facility.value for d in fleet.devices)
        self.sim = Simulation(fleet, seed=args.seed, locator=self.locator, prefix=self.prefix)
        self.messages = self.sim.messages()
        self.truth = TruthBuilder(seed=args.seed, devices=args.devices, bad_ratio=0, nmea_ratio=0)
        self.unacked = 0  # over the whole run: the truth is exact while this stays 0
        print(
            f"fleet: {args.devices:,} devices ({args.mix} mix), registry and simulation ready in "
            f"{time.monotonic() - started:.0f} s",
            flush=True,
        )
        self.publishers = Publishers(servers.mqtt_port, args.publishers, tmp / "publishers.log")
        self.loads = 0
        self.state_per_device = 0.0  # worker RSS growth per device during the warm-up, bytes

    # -- processes --------------------------------------------------------------------------
    def pids(self) -> dict[str, list[int]]:
        servers = {s.name: s.pid for s in self.servers.state().servers}
        children = self.platform.children.children
        return {
            "collector": [children["collector"].proc.pid],  # type: ignore[union-attr]
            "kafka": [servers["kafka"]],
            "worker": [children["stream"].proc.pid],  # type: ignore[union-attr]
            "influxd": [servers["influxdb"]],
            "mosquitto": [servers["mqtt"]],
            "publishers": self.publishers.pids,
        }

    def cpu(self) -> dict[str, float]:
        return {name: sum(map(cpu_seconds, pids)) for name, pids in self.pids().items()}

    def rss(self) -> dict[str, int]:
        pids = self.pids()
        return {name: rss_bytes(pids[name][0]) for name in ("collector", "worker")}

    def visible_now(self) -> int:
        return stored_events(self.platform.stream_metrics_port) or 0

    def poller(self) -> Visibility:
        port = self.platform.stream_metrics_port
        poller = Visibility(lambda: stored_events(port), None, self.args.poll)
        poller.start()
        return poller

    def stored_by_measurement(self) -> dict[str, int]:
        influx = self.platform.influx()
        return {m: count_points(influx, m) for m in MEASUREMENTS}

    def next_load(
        self, *, count: int | None = None, until_devices: int | None = None, progress: int = 0
    ) -> Load:
        self.loads += 1
        return write_load(
            self.messages,
            self.tmp / f"load-{self.loads}",
            shards=self.args.publishers,
            count=count,
            until_devices=until_devices,
            truth=self.truth,
            sim=self.sim,
            progress_every=progress,
        )

    # -- phases -----------------------------------------------------------------------------
    def ceiling(self) -> None:
        """The load generator alone: as fast as Mosquitto acknowledges, nobody subscribed."""
        locator = self.locator
        fleet = build_fleet(
            CEILING_DEVICES, seed=self.args.seed + 1, locator=locator, mix=MIXES[self.args.mix]
        )
        sim = Simulation(fleet, seed=self.args.seed + 1, locator=locator, prefix="ceiling")
        gen0 = time.monotonic()
        ceiling = write_load(
            sim.messages(),
            self.tmp / "ceiling",
            shards=self.args.publishers,
            count=CEILING_MESSAGES,
            retain=False,
        )
        gen = time.monotonic() - gen0
        servers = {s.name: s.pid for s in self.servers.state().servers}
        pids = {"publishers": self.publishers.pids, "mosquitto": [servers["mqtt"]]}
        cpu0 = {k: sum(map(cpu_seconds, v)) for k, v in pids.items()}
        files = self.publishers.start(ceiling, 0.0)
        pub = self.publishers.finish(files)
        # From the moment the first packet was due to the last acknowledgement.
        wall = time.monotonic() - files.start_at
        cpu = {
            k: (sum(map(cpu_seconds, pids[k])) - c) / ceiling.count * 1e6 for k, c in cpu0.items()
        }
        acked = ceiling.count - pub.unacked
        print(
            f"load generator ceiling: {acked:,} messages sent and acknowledged in {wall:.1f} s, "
            f"{acked / wall:,.0f} msg/s, by {self.args.publishers} processes at QoS 1 (unacked "
            f"{pub.unacked}); "
            f"CPU µs/msg: publishers {cpu['publishers']:.1f}, mosquitto {cpu['mosquitto']:.1f}; "
            f"pre-generation (simulator + packets, not timed in steps) "
            f"{ceiling.count / gen:,.0f} msg/s",
            flush=True,
        )

    def warm_up(self) -> None:
        """The fleet's boot, and the worker's RSS growth per device it brought."""
        platform = self.platform
        platform.start_stream()
        platform.start_collector()
        platform.wait_collector_connected()
        first = self.next_load(count=WARMUP_FIRST)
        self._publish_stored(first, WARMUP_FIRST_RATE)
        rss0 = self.rss()["worker"]
        seen0 = len(self.truth.seqs)
        rest = self.next_load(until_devices=self.args.devices)
        boot0 = time.monotonic()
        self._publish_stored(rest, self.args.warmup_rate)
        rss1 = self.rss()["worker"]
        devices = len(self.truth.seqs) - seen0
        print(
            f"warm-up: {first.count + rest.count:,} messages, all {len(self.truth.seqs):,} "
            f"devices heard from, stored in {time.monotonic() - boot0:.0f} s; worker RSS "
            f"{rss0 / MB:,.0f} → {rss1 / MB:,.0f} MB: {(rss1 - rss0) / max(1, devices):,.0f} "
            f"bytes per device",
            flush=True,
        )
        self.state_per_device = (rss1 - rss0) / max(1, devices)

    def _publish_stored(self, batch: Load, rate: float) -> None:
        """Publish, then wait until the worker stored all of it (it may still be joining its
        group and creating the database on the first batch)."""
        base = self.visible_now()
        pub = self.publishers.run(batch, rate)
        self.unacked += pub.unacked
        target = base + batch.count - pub.unacked
        deadline = time.monotonic() + WARMUP_MAX_S
        while self.visible_now() < target:
            self.platform.children.check()
            if time.monotonic() > deadline:
                raise SystemExit(f"warm-up: not stored; logs in {self.platform.run_dir}")
            time.sleep(0.5)

    def measure_idle(self) -> None:
        poller = self.poller()
        cpu0, wall0 = self.cpu(), time.monotonic()
        time.sleep(IDLE_S)
        poller.stop()
        wall = time.monotonic() - wall0
        idle = {k: (v - cpu0[k]) / wall for k, v in self.cpu().items()}
        print(
            f"idle ({IDLE_S:.0f} s, no messages) cpu ms/s: "
            + "  ".join(f"{k} {v * 1e3:.0f}" for k, v in idle.items()),
            flush=True,
        )

    def step(self, rate: float, seconds: float) -> CityStep:
        gen0 = time.monotonic()
        batch = self.next_load(count=max(1, round(rate * seconds)))
        took = time.monotonic() - gen0
        print(f"  (step of {rate:,.0f}/s: {batch.count:,} messages generated in {took:.1f} s)")
        base, stored0 = self.visible_now(), self.stored_by_measurement()
        cpu0, wall0 = self.cpu(), time.monotonic()
        poller = self.poller()
        pub = self.publishers.run(batch, rate)
        self.unacked += pub.unacked
        acked = batch.count - pub.unacked
        drain(poller, base + acked, self.platform.children.check)
        poller.stop()
        return self._figures(rate, batch, pub.times, pub.acked, poller, base, stored0, cpu0, wall0)

    def _figures(
        self,
        rate: float,
        batch: Load,
        times: list[float],
        acked_flags: bytes,
        poller: Visibility,
        base: int,
        stored0: dict[str, int],
        cpu0: dict[str, float],
        wall0: float,
    ) -> CityStep:
        wall = time.monotonic() - wall0
        cpu = {k: v - cpu0[k] for k, v in self.cpu().items()}
        stored1 = self.stored_by_measurement()
        expected = batch.acked_by_measurement(acked_flags)
        lost_by = {m: expected[m] - (stored1[m] - stored0[m]) for m in MEASUREMENTS}
        acked = sum(acked_flags)
        lat = latencies(times, poller.stored, base)[0]
        slope = latency_slope(times, lat)
        lat.sort()
        n = len(times)
        sent_rate = (n - 1) / (times[-1] - times[0]) if n > 1 else rate
        return CityStep(
            offered=rate,
            published=acked,
            sent_rate=sent_rate,
            stored_rate=sent_rate / (1 + max(0.0, slope)) * len(lat) / max(1, n),
            lost=sum(lost_by.values()),
            lost_by=lost_by,
            p50=percentile(lat, 50),
            p99=percentile(lat, 99),
            cpu_us={k: v / max(1, acked) * 1e6 for k, v in cpu.items()},
            cores={k: v / wall for k, v in cpu.items()},
            rss=self.rss(),
            interval=batch.interval_s(rate, self.fleet),
            devices=sum(len(d) for d in batch.devices.values()),
            unacked=batch.count - acked,
            sim_speed=(batch.sim_seconds[1] - batch.sim_seconds[0]) * rate / max(1, batch.count),
        )

    def soak(self, rate: float, seconds: float) -> None:
        count = max(1, round(rate * seconds))
        print(f"soak: generating {count:,} messages first", flush=True)
        batch = self.next_load(count=count, progress=500_000)
        settings = self.settings
        lag = LagProbe(
            settings.kafka.bootstrap_servers, settings.stream.app_id, settings.kafka.events_topic
        )
        base, stored0 = self.visible_now(), self.stored_by_measurement()
        cpu0, wall0 = self.cpu(), time.monotonic()
        poller = self.poller()
        files = self.publishers.start(batch, rate)
        minutes = math.ceil(seconds / 60)
        rss_first: dict[str, int] = {}
        rss_last: dict[str, int] = {}
        print(
            "soak: minute | sent in the minute | stored in all | collector RSS MB "
            "| worker RSS MB | events lag | p99 of the minute, s",
            flush=True,
        )
        for minute in range(1, minutes + 1):
            end = min(seconds, minute * 60.0)
            time.sleep(max(0.0, files.start_at + end + SOAK_GRACE_S - time.monotonic()))
            self.platform.children.check()
            first, last = round((minute - 1) * 60 * rate), min(count, round(end * rate))
            times = sorted_times(files, first, last)
            p99, missing = window_latency(times, poller.stored, base + first, 99)
            rss = self.rss()
            rss_first = rss_first or rss
            rss_last = rss
            print(
                f"soak: {minute:>4} | {len(times):>8,} | {poller.last - base:>10,} "
                f"| {rss['collector'] / MB:>7,.0f} | {rss['worker'] / MB:>7,.0f} "
                f"| {lag.lag()} | {'>' if missing else ''}{p99:.2f}",
                flush=True,
            )
        pub = self.publishers.finish(files)
        self.unacked += pub.unacked
        drain(poller, base + batch.count - pub.unacked, self.platform.children.check)
        poller.stop()
        lag.close()
        step = self._figures(rate, batch, pub.times, pub.acked, poller, base, stored0, cpu0, wall0)
        print(f"soak: whole run\n{step.line()}")
        growth = "  ".join(
            f"{k} {rss_first[k] / MB:,.0f} → {rss_last[k] / MB:,.0f} MB "
            f"({(rss_last[k] - rss_first[k]) / MB:+,.0f})"
            for k in rss_first
        )
        print(
            f"soak: lost {step.lost}; RSS first → last minute: {growth}; worker RSS per device "
            f"(warm-up) {self.state_per_device:,.0f} bytes",
            flush=True,
        )

    def state_size(self) -> None:
        """The newest device-state record per device in the state table's changelog."""
        bootstrap = self.settings.kafka.bootstrap_servers
        topic = f"{self.settings.stream.app_id}-device_state-changelog"
        devices, mean = device_state_sizes(bootstrap, topic, STATE_TAIL)
        print(
            f"device state: {devices:,} devices in the changelog's tail ({topic}), newest record "
            f"{mean:,.0f} bytes on average (DeviceState.dump())",
            flush=True,
        )

    def reconcile(self) -> None:
        truth = self.truth.build(sim_seconds=self.sim.sim_time, unacked=self.unacked)
        self.platform.truth_path.write_text(truth.model_dump_json(indent=1))
        # Until exact, or until two readings agree: storage has settled, what differs stays.
        result = self.platform.reconcile(truth)
        deadline = time.monotonic() + RECONCILE_MAX_S
        while not result.exact and time.monotonic() < deadline:
            time.sleep(RECONCILE_PAUSE_S)
            again = self.platform.reconcile(truth)
            settled = again.lost == result.lost and again.mismatches == result.mismatches
            result = again
            if settled:
                break
        verdict = "exact" if result.exact else f"NOT exact, {len(result.mismatches)} mismatches"
        print(
            f"reconciliation against the truth file ({truth.published:,} published, "
            f"{self.unacked} unacked): {verdict}; lost {result.lost}",
            flush=True,
        )
        for check in result.mismatches[:8]:
            print(f"  {check.name}: expected {check.expected:,}, stored {check.actual:,}")


def report(steps: list[CityStep], args: argparse.Namespace) -> None:
    print(f"\n## City-scale steps ({args.devices:,} devices, {args.seconds:g} s each)\n")
    print(
        "| offered msg/s | sent | stored | lost | p50 ms | p99 ms | s between messages of "
        "a device | "
        + " | ".join(f"{p} µs/msg" for p in PROCESSES[:4])
        + " | "
        + " | ".join(f"{p} cores" for p in PROCESSES[:4])
        + " | collector RSS MB | worker RSS MB | load avg |"
    )
    print("|" + "--:|" * 18)
    for s in steps:
        every = args.devices / s.offered
        print(
            f"| {s.offered:,.0f} | {s.sent_rate:,.0f} | {s.stored_rate:,.0f} | {s.lost:,} "
            f"| {s.p50 * 1e3:,.0f} | {s.p99 * 1e3:,.0f} | {every:.0f} | "
            + " | ".join(f"{s.cpu_us[p]:,.0f}" for p in PROCESSES[:4])
            + " | "
            + " | ".join(f"{s.cores[p]:.2f}" for p in PROCESSES[:4])
            + f" | {s.rss['collector'] / MB:,.0f} | {s.rss['worker'] / MB:,.0f} | {s.load} |"
        )


def run(args: argparse.Namespace, tmp: Path) -> None:
    servers = LocalServers(
        run_dir=tmp / "servers",
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
        database="city",
        kafka=args.kafka,
    )
    with servers:
        city = City(args, tmp, servers)
        try:
            city.ceiling()
            city.warm_up()
            city.measure_idle()
            steps: list[CityStep] = []
            if args.soak:
                city.soak(args.rate, args.soak)
            else:
                for rate in args.rates:
                    step = city.step(rate, args.seconds)
                    steps.append(step)
                    print(step.line(), flush=True)
                    if step.saturated:
                        break
            city.state_size()
            city.reconcile()
            if steps:
                report(steps, args)
        finally:
            try:
                city.publishers.close()
            finally:
                city.platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,2000,3600,6000", help="msg/s, rising")
    parser.add_argument("--seconds", type=float, default=30.0, help="publishing time per step")
    parser.add_argument("--soak", type=float, default=0.0, help="soak for this many seconds")
    parser.add_argument("--rate", type=float, default=3600.0, help="the soak's msg/s")
    parser.add_argument("--devices", type=int, default=115_000, help="simulated fleet")
    parser.add_argument("--mix", choices=sorted(MIXES), default="city", help="fleet mix")
    parser.add_argument("--warmup-rate", type=float, default=3000.0, help="the boot's msg/s")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--kafka", choices=("apache", "tansu"), default="apache")
    parser.add_argument("--poll", type=float, default=0.2, help="visibility poll interval, s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run-dir", type=Path, help="keep servers' data and logs here")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    print(f"machine: {machine()}", flush=True)
    if args.run_dir is not None:
        run(args, args.run_dir.resolve())
        return
    with tempfile.TemporaryDirectory(prefix="cityiot-city-") as tmp:
        run(args, Path(tmp))


if __name__ == "__main__":
    main()
