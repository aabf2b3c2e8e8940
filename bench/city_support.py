"""Helpers of ``bench/city.py``: a city-sized load, pre-generated and published by several
processes over raw MQTT 3.1.1, and the probes of a long run (RSS, Kafka lag, device-state size).

Publishing: the parent turns the simulator's messages into ready-made PUBLISH packets (QoS 1,
packet ids assigned in advance), one file per publisher process, the devices spread over the
processes by a hash of their id, so each device's messages keep their order on one connection.
Each process (``python -m bench.city_support publish``) maps its file and, per tick, hands the
kernel every packet that is due in one ``send``, after writing the wall clock into each payload's
``ts`` (fixed width: 13 digits of epoch ms or 24 characters of RFC 3339), so a message generated
minutes ahead still carries its send time, as a device's would. That and noting the send time
are the only per-message Python work: the publisher stays cheap next to the broker. Every PUBACK
is matched to its message: a message counts as published only once acknowledged, which keeps the
truth exact. Valid JSON only: an NMEA sentence's time sits under its checksum. (Past ~400 lines:
the bench owns two files; the wire format, the publisher process and the probes share this one.)

The parent and the publishers share two files through ``mmap``: the monotonic time each message
left (float64, by the message's index in the load) and whether it was acknowledged (a byte).
``time.monotonic`` is one clock for every process of the machine (CLOCK_MONOTONIC).
"""

from __future__ import annotations

import argparse
import array
import bisect
import json
import mmap
import select
import shutil
import socket
import struct
import subprocess
import sys
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from bench.e2e_support import latencies, percentile
from cityiot.reconcile import CHANNEL_MEASUREMENTS, STATUS_MEASUREMENT
from simulator.engine import Simulation
from simulator.message import SimMessage
from simulator.truth import TruthBuilder

# The raw measurements a message lands in (cityiot.reconcile's mapping), as one-byte codes.
MEASUREMENTS: tuple[str, ...] = (*sorted(set(CHANNEL_MEASUREMENTS.values())), STATUS_MEASUREMENT)
_CODE = {name: code for code, name in enumerate(MEASUREMENTS)}
# QoS 1 packets unacknowledged per publisher at most: far below the 65,535 packet ids, so an id
# names one message in flight; at Mosquitto's ~0.1 ms per PUBACK it never limits a paced step.
DEFAULT_WINDOW = 20_000
# A paced publisher wakes this often and sends what fell due (a message's send time is known
# to within a tick).
TICK_S = 0.002
CONNECT_TIMEOUT_S = 10.0
# Waiting for the last PUBACKs of a run: beyond this they count as unacknowledged.
ACK_TIMEOUT_S = 60.0
# An idle publisher exits as soon as its input closes; one still busy is stopped after this.
CLOSE_GRACE_S = 5.0
# Keepalive of the publishers' MQTT connections; a PINGREQ goes out after half of it idle.
KEEPALIVE_S = 60
PINGREQ = b"\xc0\x00"
# Payloads start {"ts":<value>, (simulator.engine.encode_wire): the value's offset and widths.
TS_AT, EPOCH_MS_WIDTH, RFC3339_WIDTH = 6, 13, 24
_PUBACK, _PINGRESP, _CONNACK = 4, 13, 2


# -- MQTT 3.1.1 on the wire ---------------------------------------------------------------------
def _length(n: int) -> bytes:
    """MQTT's variable-length "remaining length"."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def connect_packet(client_id: str) -> bytes:
    """CONNECT, MQTT 3.1.1, clean session: a publisher keeps nothing between runs."""
    body = _string("MQTT") + bytes([4, 0x02]) + struct.pack(">H", KEEPALIVE_S) + _string(client_id)
    return b"\x10" + _length(len(body)) + body


def publish_packet(topic: str, payload: bytes, mid: int, *, retain: bool) -> bytes:
    """PUBLISH at QoS 1 with packet id ``mid`` (1..65535)."""
    body = _string(topic) + struct.pack(">H", mid) + payload
    return bytes([0x32 | retain]) + _length(len(body)) + body


def mid_of(index: int) -> int:
    """The packet id of a publisher's ``index``-th message in a run (ids cycle over 1..65535)."""
    return index % 65535 + 1


def ts_slot(packet: bytes, payload: bytes) -> int:
    """Where the packet's ``ts`` value starts: > 0 epoch ms, < 0 (negated) RFC 3339, 0 none."""
    at = len(packet) - len(payload) + TS_AT
    if not payload.startswith(b'{"ts":'):
        return 0
    if payload[TS_AT : TS_AT + 1] == b'"' and payload[TS_AT + 1 + RFC3339_WIDTH] == ord('"'):
        return -(at + 1)
    if payload[TS_AT : TS_AT + EPOCH_MS_WIDTH].isdigit() and payload[TS_AT + EPOCH_MS_WIDTH] == ord(
        ","
    ):
        return at
    return 0


def stamps(wall_s: float) -> tuple[bytes, bytes]:
    """``ts`` values for the wall time ``wall_s``: epoch ms and RFC 3339 (as ``format_ts``)."""
    ms = int(wall_s * 1000)
    rfc = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return str(ms).encode(), rfc.replace("+00:00", "Z").encode()


# -- a pre-generated load -----------------------------------------------------------------------
def measurement_of(msg: SimMessage) -> str:
    """Where the streams worker stores a valid message's raw point."""
    if msg.channel == "status":
        return STATUS_MEASUREMENT
    return CHANNEL_MEASUREMENTS[f"{msg.facility.value}/{msg.channel}"]


@dataclass
class Load:
    """Messages ready to publish: ``shards`` files of packets, and what each message is.

    Message ``k`` (in the simulator's order) is due ``k / rate`` seconds after the start; its
    shard is its device's. ``kinds[k]`` is its measurement code (``MEASUREMENTS``).
    """

    directory: Path
    shards: int
    count: int = 0
    kinds: bytearray = field(default_factory=bytearray)
    by_facility: Counter[str] = field(default_factory=Counter)
    devices: dict[str, set[str]] = field(default_factory=dict)
    sim_seconds: tuple[float, float] = (0.0, 0.0)

    def shard_paths(self, shard: int) -> dict[str, Path]:
        """Packets (bin), and per message: index in the load (idx), packet offset (off, one
        more: the end), ``ts`` slot (tsp, see :func:`ts_slot`)."""
        base = self.directory / f"shard-{shard}"
        return {ext: base.with_suffix(f".{ext}") for ext in ("bin", "idx", "off", "tsp")}

    def acked_by_measurement(self, acked: bytes) -> Counter[str]:
        """Messages per measurement whose ``acked`` byte is set."""
        counts: Counter[str] = Counter()
        for kind, ok in zip(self.kinds, acked, strict=True):
            counts[MEASUREMENTS[kind]] += ok
        return +counts

    def interval_s(self, rate: float, fleet: Counter[str]) -> dict[str, float]:
        """Mean seconds between two messages of one device at ``rate``, per facility of
        ``fleet`` (devices per facility: those silent during the load count too)."""
        seconds = self.count / rate if rate else 0.0
        return {f: fleet[f] * seconds / n for f, n in self.by_facility.items() if n}


def write_load(
    messages: Iterator[SimMessage],
    directory: Path,
    *,
    shards: int,
    count: int | None = None,
    until_devices: int | None = None,
    truth: TruthBuilder | None = None,
    retain: bool = True,
    sim: Simulation | None = None,
    progress_every: int = 0,
) -> Load:
    """Write ``count`` messages (or until ``truth`` has heard from ``until_devices`` devices)
    as packets under ``directory``, adding each to ``truth`` (checked against the PUBACKs
    later). ``sim`` is read for the simulated time the load covers."""
    directory.mkdir(parents=True, exist_ok=True)
    load = Load(directory, shards)
    files: list[IO[bytes]] = []
    indices = [array.array("q") for _ in range(shards)]
    offsets = [array.array("q", [0]) for _ in range(shards)]
    slots = [array.array("i") for _ in range(shards)]
    start_sim = sim.sim_time if sim is not None else 0.0
    started = time.monotonic()
    try:
        for shard in range(shards):
            files.append(load.shard_paths(shard)["bin"].open("wb", buffering=1 << 20))
        for msg in messages:
            shard = zlib.crc32(msg.device_id.encode()) % shards
            packet = publish_packet(
                msg.topic, msg.payload, mid_of(len(indices[shard])), retain=retain and msg.retain
            )
            files[shard].write(packet)
            indices[shard].append(load.count)
            offsets[shard].append(offsets[shard][-1] + len(packet))
            slots[shard].append(ts_slot(packet, msg.payload))
            load.kinds.append(_CODE[measurement_of(msg)])
            facility = msg.facility.value
            load.by_facility[facility] += 1
            load.devices.setdefault(facility, set()).add(msg.device_id)
            if truth is not None:
                truth.add(msg)
            load.count += 1
            if progress_every and load.count % progress_every == 0:
                rate = load.count / (time.monotonic() - started)
                todo = f"/{count:,}" if count else ""
                print(f"  generated {load.count:,}{todo} messages ({rate:,.0f}/s)", flush=True)
            if count is not None and load.count >= count:
                break
            if until_devices is not None and truth is not None and len(truth.seqs) >= until_devices:
                break
    finally:
        for f in files:
            f.close()
    for shard in range(shards):
        paths = load.shard_paths(shard)
        paths["idx"].write_bytes(indices[shard].tobytes())
        paths["off"].write_bytes(offsets[shard].tobytes())
        paths["tsp"].write_bytes(slots[shard].tobytes())
    load.sim_seconds = (start_sim, sim.sim_time if sim is not None else 0.0)
    return load


# -- the shared result files --------------------------------------------------------------------
class RunFiles:
    """Send times (float64) and acknowledgements (one byte) of a load's messages, by index."""

    def __init__(self, directory: Path, count: int, start_at: float) -> None:
        self.count = count
        self.start_at = start_at  # monotonic time the first message is due
        self.times_path = directory / "times.f64"
        self.acks_path = directory / "acks.u8"
        self.times_path.write_bytes(bytes(8 * max(1, count)))
        self.acks_path.write_bytes(bytes(max(1, count)))

    def times(self) -> array.array[float]:
        out = array.array("d")
        out.frombytes(self.times_path.read_bytes()[: 8 * self.count])
        return out

    def acks(self) -> bytes:
        return self.acks_path.read_bytes()[: self.count]


@dataclass
class Published:
    """A load's run: send times in sending order, acknowledged messages, the ones that were not."""

    times: list[float]
    acked: bytes
    unacked: int


def sorted_times(files: RunFiles, first: int = 0, last: int | None = None) -> list[float]:
    """Send times of messages ``first``..``last`` that left, in the order they left."""
    times = files.times()[first:last]
    return sorted(t for t in times if t > 0)


# -- the publisher processes --------------------------------------------------------------------
class Publishers:
    """``count`` publisher processes on Mosquitto at ``port`` (one MQTT connection per run)."""

    def __init__(self, port: int, count: int, log: Path) -> None:
        self.port = port
        root = Path(__file__).resolve().parent.parent
        with log.open("ab") as err:
            self.procs = [
                _spawn(root, port, err)  # each reads JSON commands on stdin
                for _ in range(count)
            ]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def start(self, load: Load, rate: float, *, window: int = DEFAULT_WINDOW) -> RunFiles:
        """Start publishing ``load`` at ``rate`` msg/s in all (0: as fast as the broker
        acknowledges); :meth:`finish` waits for the end. Returns where progress shows."""
        # Time to connect every process before the first message is due.
        start_at = time.monotonic() + 1.0
        files = RunFiles(load.directory, load.count, start_at)
        for shard, proc in enumerate(self.procs):
            command: dict[str, Any] = {k: str(v) for k, v in load.shard_paths(shard).items()}
            command |= {
                "times": str(files.times_path),
                "acks": str(files.acks_path),
                "rate": rate,
                "start_at": start_at,
                "window": window,
            }
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(command).encode() + b"\n")
            proc.stdin.flush()
        return files

    def finish(self, files: RunFiles) -> Published:
        """Wait for every process's reply; the load's files are deleted (the packets of a soak
        take gigabytes)."""
        errors = []
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise SystemExit(f"publisher {proc.pid} exited (code {proc.wait()})")
            reply = json.loads(line)
            if reply.get("error"):
                errors.append(reply["error"])
        if errors:
            raise SystemExit(f"publishers failed: {errors}")
        acked = files.acks()
        published = Published(sorted_times(files), acked, files.count - sum(acked))
        shutil.rmtree(files.times_path.parent)
        return published

    def run(self, load: Load, rate: float, *, window: int = DEFAULT_WINDOW) -> Published:
        return self.finish(self.start(load, rate, window=window))

    def close(self) -> None:
        """End of input: idle processes exit at once; one still publishing (the run failed)
        is stopped."""
        for proc in self.procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(CLOSE_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait()


def _spawn(root: Path, port: int, err: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.city_support", "publish", "--port", str(port)],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
    )


class _Connection:
    """One publisher's MQTT connection: sends packets, matches PUBACKs to message indices."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(f"bench-city-{uuid.uuid4().hex[:10]}"))
        connack = b""
        while len(connack) < 4:
            chunk = self.sock.recv(4 - len(connack))
            if not chunk:
                raise ConnectionError("the broker closed the connection before CONNACK")
            connack += chunk
        if connack[0] >> 4 != _CONNACK or connack[3] != 0:
            raise ConnectionError(f"CONNACK refused: {connack.hex()}")
        self.sock.setblocking(False)
        self.inbox = b""
        self.last_sent = time.monotonic()

    def read(self) -> list[int]:
        """Packet ids of the PUBACKs that arrived (PINGRESPs are skipped)."""
        try:
            data = self.sock.recv(1 << 18)
        except BlockingIOError:
            return []
        if not data:
            raise ConnectionError("the broker closed the connection")
        buf = self.inbox + data
        mids: list[int] = []
        pos = 0
        while len(buf) - pos >= 2:
            kind, size = buf[pos] >> 4, buf[pos + 1]  # PUBACK and PINGRESP: one length byte
            if len(buf) - pos < 2 + size:
                break
            if kind == _PUBACK:
                mids.append((buf[pos + 2] << 8) | buf[pos + 3])
            elif kind != _PINGRESP:
                raise ConnectionError(f"unexpected MQTT packet type {kind}")
            pos += 2 + size
        self.inbox = buf[pos:]
        return mids

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        except OSError:
            pass
        self.sock.close()


def _read_array(path: str, code: str) -> array.array[int]:
    out = array.array(code)
    out.frombytes(Path(path).read_bytes())
    return out


@dataclass
class _Shard:
    """One publisher's part of a load, and where to note what happened to each message."""

    blob: memoryview
    indices: array.array[int]
    offsets: array.array[int]
    slots: array.array[int]
    times: memoryview[float]
    acks: memoryview[int]


def publish_run(port: int, command: dict[str, Any]) -> dict[str, Any]:
    """One publisher's share of a load: paced by the messages' global indices (``k / rate``)."""
    indices = _read_array(command["idx"], "q")
    if not indices:
        return {"sent": 0, "acked": 0}
    rate, start_at, window = float(command["rate"]), float(command["start_at"]), command["window"]
    with (
        Path(command["bin"]).open("rb") as blob_file,
        Path(command["times"]).open("r+b") as times_file,
        Path(command["acks"]).open("r+b") as acks_file,
    ):
        maps = [
            mmap.mmap(blob_file.fileno(), 0, access=mmap.ACCESS_READ),
            mmap.mmap(times_file.fileno(), 0),
            mmap.mmap(acks_file.fileno(), 0),
        ]
        shard = _Shard(
            blob=memoryview(maps[0]),
            indices=indices,
            offsets=_read_array(command["off"], "q"),
            slots=_read_array(command["tsp"], "i"),
            times=memoryview(maps[1]).cast("d"),
            acks=memoryview(maps[2]),
        )
        conn = _Connection(port)
        try:
            return _pace(conn, shard, rate, start_at, window)
        finally:
            conn.close()
            for view in (shard.blob, shard.times, shard.acks):
                view.release()
            for m in maps:
                m.close()


def _chunk(shard: _Shard, first: int, last: int) -> bytearray:
    """Packets ``first``..``last`` with the wall clock written into their ``ts``."""
    base = shard.offsets[first]
    out = bytearray(shard.blob[base : shard.offsets[last]])
    epoch_ms, rfc3339 = stamps(time.time())
    for j in range(first, last):
        slot = shard.slots[j]
        if slot > 0:
            at = shard.offsets[j] - base + slot
            out[at : at + EPOCH_MS_WIDTH] = epoch_ms
        elif slot < 0:
            at = shard.offsets[j] - base - slot
            out[at : at + RFC3339_WIDTH] = rfc3339
    return out


def _pace(
    conn: _Connection, shard: _Shard, rate: float, start_at: float, window: int
) -> dict[str, Any]:
    indices, times, acks = shard.indices, shard.times, shard.acks
    n = len(indices)
    sent = acked = 0  # messages fully handed to the kernel, messages acknowledged
    out = memoryview(b"")  # bytes of the current chunk not yet sent
    chunk_from = 0
    while time.monotonic() < start_at:
        time.sleep(min(0.05, max(0.0, start_at - time.monotonic())))
    ack_deadline = float("inf")
    while acked < n:
        now = time.monotonic()
        if not out and sent < n:
            due = n if not rate else bisect.bisect_right(indices, (now - start_at) * rate)
            due = min(due, acked + window)
            if due > sent:
                out = memoryview(_chunk(shard, sent, due))
                chunk_from, sent = sent, due
        if out:
            try:
                written = conn.sock.send(out)
            except BlockingIOError:
                written = 0
            out = out[written:]
            if not out:
                stamp = time.monotonic()
                for j in range(chunk_from, sent):
                    times[indices[j]] = stamp
                conn.last_sent = stamp
        elif now - conn.last_sent > KEEPALIVE_S / 2:
            conn.sock.setblocking(True)
            conn.sock.sendall(PINGREQ)
            conn.sock.setblocking(False)
            conn.last_sent = now
        if sent == n and not out and ack_deadline == float("inf"):
            ack_deadline = now + ACK_TIMEOUT_S
        if now > ack_deadline:
            break
        if out:
            timeout = TICK_S
        elif sent < n and rate and sent - acked < window:
            # Sleep until the next message is due, at least a tick: what falls due meanwhile
            # goes out in one send.
            timeout = min(5 * TICK_S, max(TICK_S, start_at + indices[sent] / rate - now))
        else:
            timeout = 0.05  # waiting for acknowledgements: woken by them
        readable, _, _ = select.select([conn.sock], [conn.sock] if out else [], [], timeout)
        if readable:
            for mid in conn.read():
                # The newest message sent with this id: ids repeat every 65,535 messages and at
                # most `window` (< 65,535) are in flight, so it is the one acknowledged.
                k = sent - 1 - ((sent - 1 - (mid - 1)) % 65535)
                if 0 <= k < sent and not acks[indices[k]]:
                    acks[indices[k]] = 1
                    acked += 1
    return {"sent": sent, "acked": acked}


def _serve(port: int) -> None:
    """Publisher process: one JSON command per stdin line, one JSON reply per stdout line."""
    for line in sys.stdin.buffer:
        try:
            reply = publish_run(port, json.loads(line))
        except (OSError, ValueError) as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


# -- probes of the running platform -------------------------------------------------------------
def rss_bytes(pid: int) -> int:
    """Resident set size of a live process (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class LagProbe:
    """The events topic's lag for the worker's consumer group: high watermarks less committed
    offsets (Faust commits every ``commit_interval_s``, so the lag includes up to that much)."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.topic = topic
        # Never subscribes, so it never joins the group: it only reads the group's offsets.
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "log_level": 0,  # a probe: an answer or None, no librdkafka lines on stderr
            }
        )

    def lag(self) -> int | None:
        try:
            meta = self.consumer.list_topics(self.topic, timeout=5)
            parts = [TopicPartition(self.topic, p) for p in meta.topics[self.topic].partitions]
            committed = self.consumer.committed(parts, timeout=5)
            total = 0
            for tp in committed:
                _, high = self.consumer.get_watermark_offsets(tp, timeout=5)
                total += max(0, high - max(0, tp.offset))
        except KafkaException:  # a probe: an answer or nothing
            return None
        return total

    def close(self) -> None:
        self.consumer.close()


def device_state_sizes(bootstrap: str, topic: str, tail: int) -> tuple[int, float]:
    """(devices, mean bytes) of the newest record per key among the last ``tail`` records of
    each partition of the worker's state changelog (one record per device: DeviceState.dump())."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-city-state-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    sizes: dict[bytes, int] = {}
    try:
        meta = consumer.list_topics(topic, timeout=10)
        if topic not in meta.topics or meta.topics[topic].error is not None:
            return 0, 0.0
        ends: dict[int, int] = {}
        assignment = []
        for p in meta.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
                assignment.append(TopicPartition(topic, p, max(low, high - tail)))
        consumer.assign(assignment)
        deadline = time.monotonic() + 120
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, timeout=1.0):
                if msg.error() is not None:
                    continue
                key, value = msg.key(), msg.value()
                if key is not None:
                    if value is None:
                        sizes.pop(key, None)
                    else:
                        sizes[key] = len(value)
                partition, offset = msg.partition() or 0, msg.offset() or 0
                if offset + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
    finally:
        consumer.close()
    return len(sizes), (sum(sizes.values()) / len(sizes) if sizes else 0.0)


def window_latency(
    times: list[float], samples: list[tuple[float, int]], base: int, q: float
) -> tuple[float, int]:
    """The ``q`` percentile of the latencies of ``times`` (sent in that order after ``base``
    stored events), counting the messages not visible yet as their age now: a lower bound
    then. Also how many were not visible."""
    lat = latencies(times, list(samples), base)[0]
    now = time.monotonic()
    missing = [now - t for t in times[len(lat) :]]
    return percentile(sorted(lat + missing), q), len(missing)


def main() -> None:
    parser = argparse.ArgumentParser(description="bench/city.py's publisher process")
    parser.add_argument("role", choices=["publish"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _serve(args.port)


if __name__ == "__main__":
    main()
