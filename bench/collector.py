"""Benchmark: sustained MQTT → Kafka-acknowledged messages/s through one collector process.

    .venv/bin/python bench/collector.py [--messages 60000] [--devices 500]

Starts its own Mosquitto, Tansu and InfluxDB (the ``cityiot services`` runner, free ports, a
temporary run directory). Each measurement preloads the same messages (~300-byte vending
telemetry JSON, QoS 1) into a persistent session while its subscriber is away, then times how fast
the subscriber drains it, so the publisher's own speed (~10,000 msg/s for paho) does not cap it:

1. ceiling: a bare paho-mqtt subscriber that only counts (auto PUBACK);
2. collector: ``collectors.service.Collector`` (decode, enrich, produce with acks=all, PUBACK after
   Kafka's acknowledgement), timed until every message is acked;
3. where the time goes: the pipeline alone (``Pipeline.route``) per message, without I/O.

Run it from the repository root (the editable install resolves packages from there).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers
from cityiot.settings import Settings
from collectors.pipeline import Inbound
from collectors.service import Collector, build_pipeline
from schemas.examples import EXAMPLES

# paho refuses ~65,000 unacked publishes; a smaller window is just as fast.
PUBLISH_WINDOW = 5_000
TIMEOUT_S = 300.0


def message(i: int, devices: int, prefix: str) -> tuple[str, bytes]:
    body = {**EXAMPLES["vending_telemetry"], "ts": datetime.now(UTC).isoformat(), "seq": i}
    return f"{prefix}/vending/ubox/VM-{i % devices:05d}/telemetry", json.dumps(body).encode()


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


def bare_subscriber(port: int, client_id: str, n: int) -> float:
    """Messages/s of a paho subscriber that only counts, draining ``n`` queued messages."""
    count = 0
    first = last = 0.0
    finished = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        nonlocal count, first, last
        count += 1
        if count == 1:
            first = time.perf_counter()
        if count == n:
            last = time.perf_counter()
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
    return (n - 1) / (last - first)


def collector_rate(settings: Settings, n: int) -> tuple[float, Collector]:
    """Messages/s from first receive to the n-th Kafka-acknowledged PUBACK."""
    collector = Collector(settings)
    stop = threading.Event()
    thread = threading.Thread(target=collector.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + TIMEOUT_S
    while collector.stats.received == 0 and time.monotonic() < deadline:
        time.sleep(0.0005)
    first = time.perf_counter()
    while collector.stats.acked < n and time.monotonic() < deadline:
        time.sleep(0.001)
    elapsed = time.perf_counter() - first
    acked = collector.stats.acked
    stop.set()
    thread.join()
    if acked < n:
        raise SystemExit(f"collector acked {acked}/{n}")
    return n / elapsed, collector


def pipeline_cost_us(settings: Settings, messages: list[tuple[str, bytes]]) -> float:
    pipeline = build_pipeline(settings)
    now = datetime.now(UTC)
    start = time.perf_counter()
    for topic, body in messages:
        pipeline.route(Inbound(topic, body, now, time.monotonic()))
    return (time.perf_counter() - start) / len(messages) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--devices", type=int, default=500)
    args = parser.parse_args()
    n, prefix = args.messages, "city"
    with tempfile.TemporaryDirectory() as run_dir:
        servers = LocalServers(
            run_dir=Path(run_dir),
            mqtt_port=free_port(),
            kafka_port=free_port(),
            influxdb_port=free_port(),
        )
        with servers:
            messages = [message(i, args.devices, prefix) for i in range(n)]
            size = sum(len(b) for _, b in messages) / n
            tag = uuid.uuid4().hex[:8]

            bare_id = f"bench-bare-{tag}"
            preload(servers.mqtt_port, bare_id, f"$share/bare{tag}/{prefix}/#", messages)
            ceiling = bare_subscriber(servers.mqtt_port, bare_id, n)

            settings = Settings(
                mqtt={"url": servers.mqtt_url},
                kafka={
                    "bootstrap_servers": servers.kafka_bootstrap,
                    "events_topic": f"bench.events.{tag}",
                    "deadletter_topic": f"bench.deadletter.{tag}",
                },
                collector={
                    "client_id": f"bench-collector-{tag}",
                    "group": f"coll{tag}",
                    "unknown_devices": "accept",
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
            rate, collector = collector_rate(settings, n)
            route_us = pipeline_cost_us(settings, messages[: min(n, 20_000)])

    print(f"messages             {n} x ~{size:.0f} bytes, QoS 1, {args.devices} devices")
    print(f"bare paho subscriber {ceiling:9,.0f} msg/s   ({1e6 / ceiling:5.1f} us/msg)")
    print(
        f"collector            {rate:9,.0f} msg/s   ({1e6 / rate:5.1f} us/msg)  "
        f"{rate / ceiling:.0%} of the ceiling (target 70%)"
    )
    print(f"  pipeline.route     {route_us:9.1f} us/msg (decode + enrich + serialise, no I/O)")
    print(
        f"  events produced    {collector.stats.produced['event']}, "
        f"dead letters {collector.stats.deadlettered}, acked {collector.stats.acked}"
    )


if __name__ == "__main__":
    main()
