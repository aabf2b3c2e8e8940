"""Benchmark: sustained MQTT → Kafka-acknowledged messages/s through one collector process.

    .venv/bin/python bench/collector.py [--messages 40000] [--devices 500] [--repeat 3]

Starts its own Mosquitto, Tansu and InfluxDB (the ``cityiot services`` runner, free ports, a
temporary run directory). Each measurement preloads the same messages (~250-byte vending
telemetry JSON, QoS 1, every device in a registry so enrichment runs as in production) into a
persistent session while its subscriber is away, then times how fast the subscriber drains it, so
the publisher's own speed (~10,000 msg/s for paho) does not cap it:

1. ceiling: a bare paho-mqtt subscriber that only counts (auto PUBACK);
2. collector: ``collectors.service.Collector`` (decode, enrich, produce with acks=all, PUBACK after
   Kafka's acknowledgement), timed until every message is acked;
3. where the time goes: CPU time per message of each collector thread (paho's network thread,
   the pump thread, librdkafka's threads), and the pipeline alone (``Pipeline.route``), no I/O.

The machine is shared and has two cores: wall-clock rates move with the load of others, so each
measurement runs ``--repeat`` times (ceiling and collector alternating, so both see the same
load); the best and median are printed with the load average, beside CPU time per message, which
moves much less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and bench/streams.py would shadow
# the streams package that core.settings imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers
from collectors.pipeline import Inbound
from collectors.service import Collector, build_pipeline
from core.settings import Settings
from schemas import DeviceRecord, Facility, Registry
from schemas.examples import EXAMPLES

# paho refuses ~65,000 unacked publishes; a smaller window is just as fast.
PUBLISH_WINDOW = 5_000
TIMEOUT_S = 300.0
# Fixed devices in Haishu, near its centre (a registry needs a district and a position).
DISTRICT, LAT, LON = "330203", 29.8597, 121.5505


def message(i: int, devices: int, prefix: str) -> tuple[str, bytes]:
    body = {**EXAMPLES["vending_telemetry"], "ts": datetime.now(UTC).isoformat(), "seq": i}
    return f"{prefix}/vending/ubox/VM-{i % devices:05d}/telemetry", json.dumps(body).encode()


def write_registry(path: Path, devices: int) -> None:
    Registry(
        DeviceRecord(
            device_id=f"VM-{i:05d}",
            facility=Facility.VENDING,
            vendor="ubox",
            district_adcode=DISTRICT,
            lat=LAT,
            lon=LON,
            expected_interval_s=300,
        )
        for i in range(devices)
    ).write_csv(path)


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each thread of this process, by native id: (name, seconds)."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        out[int(task.name)] = (name, ns / 1e9)
    return out


def session_client(port: int, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    return client


def preload(
    port: int, client_id: str, subscription: str, messages: list[tuple[str, bytes]]
) -> None:
    """Create ``client_id``'s session and subscription, leave, then publish into its queue."""
    sub = session_client(port, client_id)
    sub.loop_start()
    done = threading.Event()
    sub.on_subscribe = lambda *_a: done.set()
    sub.subscribe(subscription, qos=1)
    done.wait(10)
    sub.disconnect()
    sub.loop_stop()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(PUBLISH_WINDOW)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    pending = []
    for topic, body in messages:
        pending.append(pub.publish(topic, body, qos=1))
        if len(pending) >= PUBLISH_WINDOW:
            for info in pending:
                info.wait_for_publish(TIMEOUT_S)
            pending.clear()
    for info in pending:
        info.wait_for_publish(TIMEOUT_S)
    pub.disconnect()
    pub.loop_stop()


def bare_subscriber(port: int, client_id: str, n: int) -> tuple[float, float]:
    """(msg/s, CPU us/msg) of a paho subscriber that only counts, draining ``n`` queued messages."""
    count = 0
    first = last = cpu0 = cpu1 = 0.0
    finished = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        nonlocal count, first, last, cpu0, cpu1
        count += 1
        if count == 1:
            first, cpu0 = time.perf_counter(), time.process_time()
        if count == n:
            last, cpu1 = time.perf_counter(), time.process_time()
            finished.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    if not finished.wait(TIMEOUT_S):
        raise SystemExit(f"bare subscriber got {count}/{n}")
    client.disconnect()
    client.loop_stop()
    return (n - 1) / (last - first), (cpu1 - cpu0) / (n - 1) * 1e6


class CollectorRun:
    """One collector draining ``n`` preloaded messages: rate, CPU and CPU per thread."""

    def __init__(self, settings: Settings, n: int) -> None:
        collector = Collector(settings)
        stop = threading.Event()
        thread = threading.Thread(target=collector.run, args=(stop,), name="pump")
        thread.start()
        deadline = time.monotonic() + TIMEOUT_S
        while collector.stats.received == 0 and time.monotonic() < deadline:
            time.sleep(0.0005)
        first, cpu0, threads0 = time.perf_counter(), time.process_time(), thread_cpu()
        while collector.stats.acked < n and time.monotonic() < deadline:
            time.sleep(0.002)
        elapsed = time.perf_counter() - first
        cpu, threads1 = time.process_time() - cpu0, thread_cpu()
        self.acked = collector.stats.acked
        self.produced = collector.stats.produced["event"]
        self.deadlettered = collector.stats.deadlettered
        # Name our two Python threads (Linux shows every Python thread as "python").
        names = {thread.native_id: "pump thread", threading.get_native_id(): "bench main"}
        network = collector.source.network_thread
        if network is not None:
            names[network] = "mqtt network thread"
        stop.set()
        thread.join()
        if self.acked < n:
            raise SystemExit(f"collector acked {self.acked}/{n}")
        self.rate = n / elapsed
        self.cpu_us = cpu / n * 1e6
        self.by_thread: Counter[str] = Counter()
        for tid, (name, seconds) in threads1.items():
            label = names.get(tid) or ("librdkafka" if name.startswith("rdk:") else name)
            self.by_thread[label] += (seconds - threads0.get(tid, (name, 0.0))[1]) / n * 1e6


def pipeline_cost_us(settings: Settings, messages: list[tuple[str, bytes]]) -> float:
    """CPU microseconds of ``Pipeline.route`` per message (best of three passes)."""
    pipeline = build_pipeline(settings)
    now = datetime.now(UTC)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for topic, body in messages:
            pipeline.route(Inbound(topic, body, now, time.monotonic()))
        best = min(best, time.process_time() - start)
    return best / len(messages) * 1e6


def summary(values: list[float]) -> str:
    return f"best {max(values):7,.0f}  median {statistics.median(values):7,.0f} msg/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, prefix = args.messages, "city"
    print(f"cpus {os.cpu_count()}  {load()}  (start)")
    with tempfile.TemporaryDirectory() as run_dir:
        registry = Path(run_dir) / "registry.csv"
        write_registry(registry, args.devices)
        servers = LocalServers(
            run_dir=Path(run_dir),
            mqtt_port=free_port(),
            kafka_port=free_port(),
            influxdb_port=free_port(),
        )
        with servers:
            messages = [message(i, args.devices, prefix) for i in range(n)]
            size = sum(len(b) for _, b in messages) / n
            print(f"messages {n} x ~{size:.0f} bytes, QoS 1, {args.devices} registered devices")
            ceilings: list[float] = []
            runs: list[CollectorRun] = []
            settings = Settings()
            for r in range(args.repeat):
                tag = uuid.uuid4().hex[:8]
                bare_id = f"bench-bare-{tag}"
                preload(servers.mqtt_port, bare_id, f"$share/bare{tag}/{prefix}/#", messages)
                ceiling, bare_cpu = bare_subscriber(servers.mqtt_port, bare_id, n)
                ceilings.append(ceiling)
                print(
                    f"[{r + 1}] bare paho  {ceiling:7,.0f} msg/s  "
                    f"cpu {bare_cpu:5.1f} us/msg  {load()}"
                )
                settings = Settings(
                    mqtt={"url": servers.mqtt_url},
                    kafka={
                        "bootstrap_servers": servers.kafka_bootstrap,
                        "events_topic": f"bench.events.{tag}",
                        "deadletter_topic": f"bench.deadletter.{tag}",
                    },
                    registry_path=registry,
                    collector={
                        "client_id": f"bench-collector-{tag}",
                        "group": f"coll{tag}",
                        "rate_limit_per_s": 0,
                        "summary_interval_s": 0,
                    },
                )
                preload(
                    servers.mqtt_port,
                    settings.collector.client_id,
                    f"$share/coll{tag}/{prefix}/#",
                    messages,
                )
                run = CollectorRun(settings, n)
                runs.append(run)
                threads = "  ".join(f"{k} {v:.1f}" for k, v in run.by_thread.most_common())
                print(
                    f"[{r + 1}] collector  {run.rate:7,.0f} msg/s  cpu {run.cpu_us:5.1f} us/msg  "
                    f"{load()}  ({run.rate / ceiling:.0%} of this ceiling)\n"
                    f"    cpu us/msg by thread: {threads}"
                )
            route_us = pipeline_cost_us(settings, messages[: min(n, 20_000)])

    rates = [r.rate for r in runs]
    ratios = [r.rate / c for r, c in zip(runs, ceilings, strict=True)]
    last = runs[-1]
    print(f"bare paho subscriber  {summary(ceilings)}")
    print(
        f"collector             {summary(rates)}   cpu best "
        f"{min(r.cpu_us for r in runs):.1f} us/msg\n"
        f"  ratio to the ceiling of the same round: best {max(ratios):.0%} median "
        f"{statistics.median(ratios):.0%}; median/median "
        f"{statistics.median(rates) / statistics.median(ceilings):.0%} (target 70%)"
    )
    print(f"  pipeline.route      {route_us:5.1f} us/msg cpu (decode + enrich + serialise, no I/O)")
    print(
        f"  events produced {last.produced}, dead letters {last.deadlettered}, "
        f"acked {last.acked} (last round)"
    )
    print(f"{load()}  (end)")


if __name__ == "__main__":
    main()
