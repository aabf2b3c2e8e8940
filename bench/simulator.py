"""Simulator throughput: messages generated per second, and published at QoS 1 to a real Mosquitto.

    .venv/bin/python bench/simulator.py [--messages 100000] [--devices 1000]

Starts the local servers on free ports (the same code as ``cityiot services up``), so nothing else
needs to run. Generation is measured without MQTT (wall and CPU time: the CPU figure is what this
process can do on an otherwise idle core); publishing runs ``simulator.run`` unpaced (``--rate 0``)
with the default 1 % malformed and 10 % NMEA, and counts only what the broker acknowledged.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# simulator package it measures.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers
from schemas import DistrictIndex
from simulator import RunOptions, build_fleet, generate, run
from simulator.publisher import MqttTarget

SEED = 1
BAD_RATIO = 0.01
NMEA_RATIO = 0.1


def bench_generate(locator: DistrictIndex, devices: int, messages: int) -> None:
    fleet = build_fleet(devices, seed=SEED, locator=locator)
    wall, cpu = time.perf_counter(), time.process_time()
    size = 0
    for msg in generate(
        fleet, messages, seed=SEED, locator=locator, bad_ratio=BAD_RATIO, nmea_ratio=NMEA_RATIO
    ):
        size += len(msg.payload)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"generate  {messages} msgs  {messages / wall:,.0f} msg/s wall  "
        f"{messages / cpu:,.0f} msg/s cpu  mean payload {size / messages:.0f} B"
    )


def bench_publish(locator: DistrictIndex, devices: int, messages: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServers(
            run_dir=Path(tmp),
            mqtt_port=free_port(),
            kafka_port=free_port(),
            influxdb_port=free_port(),
        ) as servers,
    ):
        target = MqttTarget(host="127.0.0.1", port=servers.mqtt_port)
        options = RunOptions(
            devices=devices,
            rate=0,
            count=messages,
            seed=SEED,
            bad_ratio=BAD_RATIO,
            nmea_ratio=NMEA_RATIO,
            will_devices=0,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        truth = run(options, target, locator=locator)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"publish   {truth.published} acked (QoS 1)  {truth.published / wall:,.0f} msg/s wall  "
            f"{truth.published / cpu:,.0f} msg/s cpu  unacked {truth.unacked}  "
            f"(includes fleet build and district load)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=1000)
    args = parser.parse_args()
    locator = DistrictIndex.load()
    bench_generate(locator, args.devices, args.messages)
    bench_publish(locator, args.devices, args.messages)


if __name__ == "__main__":
    main()
