"""Benchmark: JT/T 808 location reports accepted per second by one gateway process.

    .venv/bin/python bench/jt808.py [--terminals 5000] [--seconds 30] [--edition 2013]

Starts its own Mosquitto (a temporary run directory, a free port; the gateway needs nothing else)
and ``cityiot gateway jt808`` as a child process, so the gateway's CPU and RSS are its own. Then
this process opens ``--terminals`` TCP connections at once (the open-file limit is raised to
its hard limit first; the child inherits it), registers and authenticates each terminal
(``CITYIOT_GATEWAY_AUTH=open``), and has every terminal send location reports in a closed loop:
the next report as soon as the last one was answered. A report counts as accepted when its
0x8001 ``success`` arrives, which the gateway sends only after Mosquitto's PUBACK. A plain MQTT
subscriber counts the positions that reach the broker, which must be at least the accepted ones.

Printed: connections set up and how long that took, accepted reports/s over the measured window,
the gateway's CPU (percent of one core, and CPU-ms per 1,000 reports) and RSS (now and peak).
The terminals' side runs on the same two shared cores, so reports/s is a floor for the gateway
alone; CPU per report is the steadier figure.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and bench/streams.py would shadow
# the streams package that core.settings imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cityiot.local.configs import mosquitto_conf
from cityiot.local.ports import free_port
from gateways.jt808.codec import Edition, Header, decode_frame, encode_frame, split_frames
from gateways.jt808.messages import (
    GMT8,
    Authentication,
    LocationReport,
    MsgId,
    Registration,
    Result,
    Status,
    authentication_body,
    location_body,
    parse_general_response,
    registration_body,
)

VENDOR = "bench"
PREFIX = "city"
# Connections opened at once: beyond the listen backlog a burst of SYNs is retried by the
# kernel with a 1 s back-off, which would measure the back-off rather than the gateway.
CONNECT_BATCH = 500
READY_TIMEOUT_S = 30.0
WARMUP_S = 3.0


class Load:
    """Counters of the terminals' side."""

    def __init__(self) -> None:
        self.ready = 0
        self.accepted = 0
        self.refused = 0
        self.failed = 0
        self.measuring = False
        self.stop = False


def phone(i: int, edition: Edition) -> str:
    return f"{13_800_000_000 + i:0{12 if edition is Edition.V2013 else 20}d}"


def report_body(i: int, n: int) -> bytes:
    # Each report differs (the gateway gives a repeated body its first seq): the latitude moves.
    return location_body(
        LocationReport(
            alarm=0,
            status=int(Status.ACC_ON | Status.POSITIONED | Status.BEIDOU),
            lat_e6=29_800_000 + (i * 997 + n) % 100_000,
            lon_e6=121_500_000 + i % 100_000,
            altitude_m=10,
            speed_dkmh=250,
            direction=n % 360,
            time=datetime.now(GMT8).replace(microsecond=0),
            extras={0x31: b"\x12"},
        )
    )


async def terminal(port: int, i: int, edition: Edition, load: Load) -> None:
    number = phone(i, edition)
    version = 1 if edition is Edition.V2019 else 0
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        load.failed += 1
        return
    buffer = b""
    serial = 0

    async def request(msg_id: int, body: bytes) -> bytes:
        nonlocal buffer, serial
        header = Header(msg_id, number, serial, edition=edition, protocol_version=version)
        serial = (serial + 1) % 0x10000
        writer.write(encode_frame(header, body))
        while True:
            frames, buffer = split_frames(buffer)
            if frames:
                return decode_frame(frames[0]).body
            chunk = await reader.read(4096)
            if not chunk:
                raise ConnectionError("closed by the gateway")
            buffer += chunk

    registration = Registration(33, 200, "70444", "BD-T1", f"T{i:06d}", 2, "浙B00001")
    try:
        await request(MsgId.REGISTER, registration_body(registration, edition))
        auth = Authentication(code="any", imei="861234567890123", software_version="bench")
        await request(MsgId.AUTHENTICATE, authentication_body(auth, edition))
        load.ready += 1
        n = 0
        while not load.stop:
            _, _, result = parse_general_response(await request(MsgId.LOCATION, report_body(i, n)))
            n += 1
            if load.measuring:
                if result is Result.SUCCESS:
                    load.accepted += 1
                else:
                    load.refused += 1
    except (ConnectionError, OSError):
        load.failed += 1
    finally:
        writer.close()


def cpu_rss(pid: int) -> tuple[float, int, int]:
    """(CPU seconds, RSS KiB, peak RSS KiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return cpu, int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0])


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port} after {timeout:g} s")


class Counter:
    """Positions that reached the broker."""

    def __init__(self, port: int) -> None:
        self.count = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"b-{uuid.uuid4().hex}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{PREFIX}/mobility/{VENDOR}/+/position", qos=0)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, _m: mqtt.MQTTMessage) -> None:
        self.count += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def drive(args: argparse.Namespace, port: int, gateway_pid: int, counter: Counter) -> None:
    edition = Edition(args.edition)
    load = Load()
    started = time.monotonic()
    tasks = []
    for first in range(0, args.terminals, CONNECT_BATCH):
        for i in range(first, min(first + CONNECT_BATCH, args.terminals)):
            tasks.append(asyncio.create_task(terminal(port, i, edition, load)))
        await asyncio.sleep(0.05)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while load.ready + load.failed < args.terminals and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    setup_s = time.monotonic() - started
    print(f"terminals ready: {load.ready} of {args.terminals} in {setup_s:.1f} s", flush=True)
    await asyncio.sleep(WARMUP_S)
    cpu0, _, _ = cpu_rss(gateway_pid)
    positions0 = counter.count
    t0 = time.monotonic()
    load.measuring = True
    await asyncio.sleep(args.seconds)
    load.measuring = False
    elapsed = time.monotonic() - t0
    cpu1, rss, peak = cpu_rss(gateway_pid)
    positions = counter.count - positions0
    load.stop = True
    await asyncio.wait(tasks, timeout=30)
    cpu = cpu1 - cpu0
    rate = load.accepted / elapsed
    print(f"accepted reports: {load.accepted:,} in {elapsed:.1f} s = {rate:,.0f}/s", flush=True)
    print(f"refused: {load.refused}, connections failed: {load.failed}")
    print(f"positions seen on MQTT in the window: {positions:,}")
    print(
        f"gateway CPU: {100 * cpu / elapsed:.0f}% of one core, "
        f"{1000 * cpu / max(load.accepted, 1) * 1000:.1f} CPU-ms per 1,000 reports"
    )
    print(f"gateway RSS: {rss / 1024:.0f} MiB (peak {peak / 1024:.0f} MiB)")
    print(f"load average: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terminals", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--edition", choices=["2013", "2019"], default="2013")
    args = parser.parse_args()

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.terminals + 200:
        raise SystemExit(f"open-file hard limit {hard} is below {args.terminals} connections")

    with tempfile.TemporaryDirectory(prefix="bench-jt808-") as tmp:
        run_dir = Path(tmp)
        (run_dir / "logs").mkdir()
        mqtt_port, gateway_port = free_port(), free_port()
        conf = run_dir / "mosquitto.conf"
        text = mosquitto_conf(
            port=mqtt_port, data_dir=run_dir, log_file=run_dir / "logs" / "mosquitto.log"
        )
        # As root Mosquitto switches to user "mosquitto", which cannot write the run directory.
        conf.write_text(text + f"user {getpass.getuser()}\n")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        broker = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL)
        gateway = None
        counter = None
        try:
            wait_port(mqtt_port, 10)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")},
                "CITYIOT_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
                "CITYIOT_GATEWAY_LISTEN_PORT": str(gateway_port),
                "CITYIOT_GATEWAY_VENDOR": VENDOR,
                "CITYIOT_GATEWAY_AUTH": "open",
            }
            cli = Path(sys.executable).parent / "cityiot"
            gateway = subprocess.Popen(
                [str(cli), "gateway", "jt808", "--log-level", "WARNING"], env=env
            )
            wait_port(gateway_port, 30)
            counter = Counter(mqtt_port)
            asyncio.run(drive(args, gateway_port, gateway.pid, counter))
        finally:
            if counter is not None:
                counter.close()
            for proc in (gateway, broker):
                if proc is not None:
                    proc.terminate()
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()


if __name__ == "__main__":
    main()
