"""Simulator throughput: messages generated per second, and published at QoS 1 to a real Mosquitto.

    .venv/bin/python bench/simulator.py [--messages 100000] [--devices 1000] [--repeat 3]

Starts the local servers on free ports (the same code as ``cityiot services up``), so nothing else
needs to run. Generation is measured without MQTT (wall and CPU time: the CPU figure is what this
process can do on an otherwise idle core); publishing runs ``simulator.run`` unpaced (``--rate 0``)
with the default 1 % malformed and 10 % NMEA, and counts only what the broker acknowledged.
The machine is shared: each measurement runs ``--repeat`` times and prints the best and median
with the load average, beside CPU time per message (which moves much less with others' load).
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def bench_generate(locator: DistrictIndex, devices: int, messages: int) -> float:
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
        f"{cpu / messages * 1e6:.1f} us/msg cpu  mean payload {size / messages:.0f} B  {load()}"
    )
    return messages / wall


def bench_publish(locator: DistrictIndex, devices: int, messages: int) -> float:
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
            f"{cpu / truth.published * 1e6:.1f} us/msg cpu  unacked {truth.unacked}  {load()}  "
            f"(includes fleet build and district load)"
        )
        return truth.published / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}  {load()}  (start)")
    locator = DistrictIndex.load()
    generated, published = [], []
    for _ in range(args.repeat):
        generated.append(bench_generate(locator, args.devices, args.messages))
        published.append(bench_publish(locator, args.devices, args.messages))
    for name, rates in (("generate", generated), ("publish", published)):
        print(
            f"{name:9} best {max(rates):7,.0f}  median {statistics.median(rates):7,.0f} msg/s wall"
            + ("  (target 5,000 published and acknowledged)" if name == "publish" else "")
        )
    print(f"{load()}  (end)")


if __name__ == "__main__":
    main()
