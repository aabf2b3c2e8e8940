"""The peer of ``bench/e2e.py``: the same steps through a Node-RED batch flow, in the same run.

After a cityiot series, once its collector and worker stopped, Node-RED (``bench/nodered.py``)
runs against the series' own Mosquitto and InfluxDB with its own topic prefix and database, fed
by the same publisher code with the same messages at the same rates. Latency is taken as for
cityiot (the k-th message published is visible at the first poll whose count reached k), from the
flow's count of points InfluxDB accepted; lost is counted in InfluxDB after the drain; CPU and
peak RSS are the Node-RED process's. :func:`report` prints ratio = cityiot / Node-RED.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e_support import (
    PIPELINE,
    TARGET_P99_S,
    LinePublisher,
    PahoPublisher,
    Step,
    Visibility,
    cpu_seconds,
    delivery,
    drain,
    load,
    peak_rss_mb,
    percentile,
    stored_points,
)
from bench.nodered import NODE_RED_VERSION, NodeRed, NodeRedUnavailable, flow
from cityiot.local.runner import LocalServers
from core.influx import InfluxQueryError, InfluxTarget, InfluxUnavailable, quote_identifier

PROCESSES = ("publisher", "mosquitto", "node-red", "influxd")
WARMUP_RATE, WARMUP_MESSAGES, WARMUP_TIMEOUT_S = 200.0, 200, 60.0


# -- the series --------------------------------------------------------------------------------
@dataclass
class PeerSeries:
    """The peer's run for one publisher: its steps, or why it could not run."""

    name: str
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    idle: dict[str, float] = field(default_factory=dict)


@dataclass
class PeerRun:
    """What a peer series needs: the cityiot series' servers, a publisher, its topic prefix."""

    name: str
    red_js: Path
    user_dir: Path
    servers: LocalServers
    publisher: PahoPublisher | LinePublisher
    topic_prefix: str
    poll: float

    def run(self, rates: list[float], seconds: float, *, idle_s: float) -> PeerSeries:
        """Every rate in turn until the peer saturates; a failure is reported, not raised."""
        series = PeerSeries(self.name)
        database = f"{self.topic_prefix}_{self.name}"
        influx = InfluxTarget(self.servers.influxdb_url, database)
        nodes = flow(
            topic_filter=f"{self.topic_prefix}/#",
            mqtt_port=self.servers.mqtt_port,
            influxdb_port=self.servers.influxdb_port,
            database=database,
            client_id=f"{self.topic_prefix}-node-red",
        )
        red = NodeRed(self.red_js, self.user_dir, nodes)
        servers = {s.name: s.pid for s in self.servers.state().servers}
        try:
            influx.execute(f"CREATE DATABASE {quote_identifier(database)}")
            red.start()
            pids = {
                "mosquitto": servers["mqtt"],
                "node-red": red.pid,
                "influxd": servers["influxdb"],
            }
            self._warm_up(red)
            series.idle = self._idle(red, pids, idle_s)
            for rate in rates:
                step = self._measure(red, pids, influx, series.idle, rate, seconds)
                series.steps.append(step)
                print(line(step), flush=True)
                if step.saturated:
                    break
        except (NodeRedUnavailable, InfluxUnavailable, InfluxQueryError) as exc:
            series.error = str(exc)
            print(f"{'Node-RED':>13} {self.name}: {exc}", flush=True)
        finally:
            red.stop()
        return series

    def _warm_up(self, red: NodeRed) -> None:
        sent = self.publisher.step(WARMUP_RATE, WARMUP_MESSAGES)
        deadline = time.monotonic() + WARMUP_TIMEOUT_S
        while (red.stored() or 0) < len(sent.times):
            red.check()
            if time.monotonic() > deadline:
                stored = f"{red.stored()} of {len(sent.times)}"
                raise NodeRedUnavailable(f"warm-up: {stored} stored; log: {red.log}")
            time.sleep(0.2)

    def _poller(self, red: NodeRed) -> Visibility:
        return Visibility(red.stored, None, self.poll)

    def _idle(self, red: NodeRed, pids: dict[str, int], seconds: float) -> dict[str, float]:
        """CPU/s of each process with only the poller at work (see bench/e2e.py)."""
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        poller = self._poller(red)
        wall0 = time.monotonic()
        poller.start()
        time.sleep(seconds)
        poller.stop()
        wall = time.monotonic() - wall0
        idle = {name: (cpu_seconds(pid) - cpu0[name]) / wall for name, pid in pids.items()}
        cells = "  ".join(f"{k} {v * 1e3:.0f}" for k, v in idle.items())
        print(f"{'Node-RED':>13} {self.name} idle cpu ms/s: {cells}", flush=True)
        return idle

    def _measure(
        self,
        red: NodeRed,
        pids: dict[str, int],
        influx: InfluxTarget,
        idle: dict[str, float],
        rate: float,
        seconds: float,
    ) -> Step:
        base, stored0 = red.stored() or 0, stored_points(influx)
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        poller = self._poller(red)
        poller.start()
        wall0 = time.monotonic()
        sent = self.publisher.step(rate, max(1, round(rate * seconds)))
        drain(poller, base + len(sent.times), red.check)
        poller.stop()
        wall = time.monotonic() - wall0
        cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
        busy = sum(cpu.values()) + sent.cpu_s
        cpu = {name: max(0.0, v - idle.get(name, 0.0) * wall) for name, v in cpu.items()}
        n = len(sent.times)
        lat, sent_rate, e2e_rate = delivery(sent.times, poller.stored, base, rate)
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
            kafka_p50=float("nan"),
            kafka_p99=float("nan"),
            lost=n - (stored_points(influx) - stored0),
            unacked=sent.unacked,
            load=load(),
            cpu_us=cpu_us,
            cores_busy=busy / wall,
            rss_mb=peak_rss_mb(red.pid),
        )


# -- the report --------------------------------------------------------------------------------
def line(step: Step) -> str:
    """One step of the peer, printed as it ends."""
    cpu = "  ".join(f"{k} {v:.0f}" for k, v in step.cpu_us.items())
    return (
        f"{'Node-RED':>13} {step.publisher} {step.offered:,.0f}/s  sent {step.sent_rate:,.0f}/s  "
        f"e2e {step.e2e_rate:,.0f}/s  p50 {step.p50 * 1e3:.0f} p95 {step.p95 * 1e3:.0f} "
        f"p99 {step.p99 * 1e3:.0f} ms  lost {step.lost}  load {step.load}  "
        f"{step.verdict.upper()}\n"
        f"{'':>14}cpu µs/msg: {cpu}  total {sum(step.cpu_us.values()):.0f}  "
        f"cores busy {step.cores_busy:.2f}  peak RSS {step.rss_mb:.0f} MB"
    )


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs > 0 and ours == ours else "n/a"  # nan != nan


def _kept(steps: list[Step]) -> tuple[float, float]:
    """The best end-to-end rates that met the target, and that kept up with nothing lost."""
    steps = [s for s in steps if not s.profiled]
    met = max((s.e2e_rate for s in steps if s.verdict == "meets target"), default=0.0)
    kept = max((s.e2e_rate for s in steps if not s.saturated and s.lost == 0), default=0.0)
    return met, kept


def _peer_steps(steps: list[Step]) -> None:
    """The peer's own figures, one row per step."""
    cols = " | ".join(f"{p} µs/msg" for p in PROCESSES)
    print(
        "| publisher | offered msg/s | sent msg/s | end-to-end msg/s | p50 ms | p99 ms | max ms "
        f"| published | lost | {cols} | cores busy | peak RSS MB | load avg | |"
    )
    print("|---|" + "--:|" * (10 + len(PROCESSES)) + "---|---|")
    for s in steps:
        cells = " | ".join(f"{s.cpu_us[p]:,.0f}" for p in PROCESSES)
        print(
            f"| {s.publisher} | {s.offered:,.0f} | {s.sent_rate:,.0f} | {s.e2e_rate:,.0f} "
            f"| {s.p50 * 1e3:,.0f} | {s.p99 * 1e3:,.0f} | {s.worst * 1e3:,.0f} "
            f"| {s.published:,} | {s.lost:,} | {cells} | {s.cores_busy:.2f} "
            f"| {s.rss_mb:,.0f} | {s.load} | {s.verdict} |"
        )


def report(peers: list[tuple[list[Step], PeerSeries]]) -> None:
    """The peer's steps, ratio = cityiot / Node-RED per publisher and step, and the summary:
    ``peers`` pairs each cityiot series' steps with the peer's series (none: --no-peer)."""
    if not peers:
        print("\n(Peer not measured: --no-peer.)")
        return
    print(f"\n## Peer: Node-RED {NODE_RED_VERSION}, same servers, same messages, same steps\n")
    print(
        "mqtt in (QoS 1, persistent session) → json → join (1000 messages or 1 s) → function "
        "(one point per message) → influxdb batch (v1.x), run after each cityiot series; "
        "visibility from the flow's count of points InfluxDB accepted. CPU µs/msg less idle.\n"
    )
    if any(peer.steps for _, peer in peers):
        _peer_steps([s for _, peer in peers for s in peer.steps])
    for _, peer in peers:
        if peer.error is not None:
            state = "stopped" if peer.steps else "not measured"
            print(f"\n{peer.name}: Node-RED {state}: {peer.error}")
    print(
        "\n### ratio = cityiot / Node-RED, per publisher and step\n\n"
        "End-to-end rate: above 1, cityiot stored more per second. Pipeline CPU µs/msg (cityiot: "
        "collector + kafka + stream; Node-RED: its process) and peak RSS: below 1, cityiot "
        "spent less. Shared servers (Mosquitto, InfluxDB) are in the tables above.\n"
    )
    print(
        "| publisher | offered msg/s | end-to-end msg/s cityiot / Node-RED | ratio "
        "| p99 ms cityiot / Node-RED | lost cityiot / Node-RED | pipeline µs/msg cityiot / "
        "Node-RED | ratio | peak RSS MB cityiot / Node-RED | ratio |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for steps, peer in peers:
        theirs = {s.offered: s for s in peer.steps}
        for s in (s for s in steps if not s.profiled):
            ours_cpu = sum(s.cpu_us[p] for p in PIPELINE)
            t = theirs.get(s.offered)
            if t is None:
                print(
                    f"| {s.publisher} | {s.offered:,.0f} | {s.e2e_rate:,.0f} / n/a | n/a "
                    f"| {s.p99 * 1e3:,.0f} / n/a | {s.lost:,} / n/a | {ours_cpu:,.0f} / n/a | n/a "
                    f"| {s.rss_mb:,.0f} / n/a | n/a |"
                )
                continue
            print(
                f"| {s.publisher} | {s.offered:,.0f} | {s.e2e_rate:,.0f} / {t.e2e_rate:,.0f} "
                f"| {_ratio(s.e2e_rate, t.e2e_rate)} | {s.p99 * 1e3:,.0f} / {t.p99 * 1e3:,.0f} "
                f"| {s.lost:,} / {t.lost:,} | {ours_cpu:,.0f} / {t.cpu_us['node-red']:,.0f} "
                f"| {_ratio(ours_cpu, t.cpu_us['node-red'])} | {s.rss_mb:,.0f} / {t.rss_mb:,.0f} "
                f"| {_ratio(s.rss_mb, t.rss_mb)} |"
            )
    print("\n### Against the peer (Node-RED, this run, the same steps)\n")
    for steps, peer in peers:
        met, kept = _kept(steps)
        ours = (
            f"- {peer.name}: cityiot {met:,.0f} msg/s with p99 ≤ {TARGET_P99_S:g} s and nothing "
            f"lost, {kept:,.0f} msg/s kept up with nothing lost; "
        )
        if peer.error is not None and not peer.steps:
            print(ours + f"Node-RED n/a ({peer.error})")
            continue
        met, kept = _kept(peer.steps)
        print(
            ours + f"Node-RED {met:,.0f} msg/s with p99 ≤ {TARGET_P99_S:g} s and nothing lost, "
            f"{kept:,.0f} msg/s kept up with nothing lost"
        )
