"""Faust's exactly_once against cityiot's at-least-once + idempotent writes, on Apache Kafka.

    .venv/bin/python bench/streams_guarantee.py                  # 50,000 events, both guarantees
    .venv/bin/python bench/streams_guarantee.py --kill           # SIGKILL the worker halfway
    .venv/bin/python bench/streams_guarantee.py --guarantee exactly_once --events 100000

Starts its own Apache Kafka and InfluxDB once (free ports, temp dir). Per guarantee, a topic,
consumer group and database of its own: produces synthetic envelopes (``streams.synthetic``,
which keeps their truth) to 4 partitions, starts one worker (``python -m streams``) with
``CITYIOT_STREAM_PROCESSING_GUARANTEE``, and times it from its first committed offset to the
last: wall time, the worker's CPU time and the broker's. With ``--kill`` the worker is SIGKILLed
half a commit interval after half the events are committed (mid-interval: work done since the
last commit is lost) and started again; the CPU of both counts, the wall time includes the
restart and its recovery. Then correctness: the raw points per kind and the 1-minute sales
roll-ups (count and amount) in InfluxDB against the truth, the duplicates the worker's dedup
dropped (replayed events its state already had), and the alert records sent more than once.
Figures and what they decided: streams/README.md, "Why not Faust's exactly_once".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and "streams" would be a bench.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402
from confluent_kafka.cimpl import NewTopic  # noqa: E402

from cityiot.local.platform import scrape  # noqa: E402
from cityiot.local.ports import free_port  # noqa: E402
from cityiot.local.runner import LocalServers  # noqa: E402
from schemas.alert import Alert  # noqa: E402
from streams.synthetic import Fleet, Truth  # noqa: E402

PARTITIONS = 4
GUARANTEES = ("at_least_once", "exactly_once")
# A worker that commits nothing for this long is stuck (or crashed): the run says so and stops.
STALL_S = 120.0


@dataclass
class Result:
    guarantee: str
    events: int
    wall_s: float
    worker_cpu_s: float
    broker_cpu_s: float
    duplicates: int
    alerts: int
    alert_repeats: int
    alerts_committed: int
    exact: bool
    detail: str


def _committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        for _ in range(50):
            try:
                return sum(max(tp.offset, 0) for tp in consumer.committed(tps, timeout=20))
            except KafkaException:
                # NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS while the coordinator moves.
                time.sleep(0.2)
        raise RuntimeError("committed offsets: the group coordinator never answered")
    finally:
        consumer.close()


def _alerts(bootstrap: str, topic: str, isolation: str) -> tuple[int, int]:
    """Alert records of ``topic`` a consumer with ``isolation`` reads (read_committed skips those
    of aborted transactions; the alert relay, an aiokafka consumer, reads uncommitted), and how
    many of them repeat an earlier one's idempotency key (a receiver drops those)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-count-{time.monotonic_ns()}",
            "isolation.level": isolation,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        count, keys, at_end = 0, set[str](), set[int | None]()
        while len(at_end) < PARTITIONS:
            message = consumer.poll(10)
            if message is None:
                break
            if message.error() is not None:
                at_end.add(message.partition())
                continue
            count += 1
            keys.add(Alert.model_validate_json(message.value() or b"").idempotency_key)
        return count, count - len(keys)
    finally:
        consumer.close()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _query(url: str, db: str, q: str) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"db": db, "q": q})
    with urllib.request.urlopen(f"{url}/query?{params}", timeout=30) as resp:  # noqa: S310
        result = json.loads(resp.read())["results"][0]
    if "error" in result:
        raise RuntimeError(f"InfluxDB: {result['error']}")
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def _one(url: str, db: str, q: str) -> list[Any]:
    series = _query(url, db, q)
    return list(series[0]["values"][0][1:]) if series else [0]


def _check(url: str, db: str, truth: Truth) -> tuple[bool, str]:
    """Raw points per kind and the sales roll-ups against the truth; what differs, if anything."""
    wrong: list[str] = []
    for kind, count in sorted(truth.events.items()):
        got = _one(url, db, f'SELECT count("seq") FROM "{kind}"')[0]  # noqa: S608
        if got != count:
            wrong.append(f"{kind}: {got} != {count}")
    sales, fen = sum(truth.sales.values()), sum(truth.fen.values())
    got_1m = _one(url, db, 'SELECT sum("count"), sum("amount_fen") FROM "vending_sale_1m"')
    if got_1m != [sales, fen]:
        wrong.append(f"vending_sale_1m: {got_1m} != {[sales, fen]}")
    return not wrong, "; ".join(wrong) or "raw points and roll-ups equal the truth"


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:])


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _wait_committed(
    worker: subprocess.Popen[bytes], log: Path, done: Callable[[], int | bool], what: str
) -> None:
    """Until ``done()`` is True (else it returns the committed count so far); fails when the
    worker exits or commits nothing new for STALL_S."""
    last, since = -1, time.monotonic()
    while True:
        n = done()
        if n is True:
            return
        if worker.poll() is not None:
            raise RuntimeError(f"worker exited ({worker.returncode}) {what}:\n{_tail(log)}")
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > STALL_S:
            raise RuntimeError(
                f"worker committed nothing for {STALL_S:.0f} s {what}:\n{_tail(log)}"
            )
        time.sleep(0.2)


def run_one(servers: LocalServers, tmp: Path, guarantee: str, args: argparse.Namespace) -> Result:
    bootstrap = servers.kafka_bootstrap
    topic, group, db = f"bench.{guarantee}.events", f"bench-{guarantee}", f"bench_{guarantee}"
    fleet = Fleet(devices=args.devices)
    records = fleet.records(args.events, span_ms=args.events * 10)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"})
    for r in records:
        while True:
            try:
                producer.produce(topic, key=r.key, value=r.value)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(120)
    metrics_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")},
        "CITYIOT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CITYIOT_KAFKA_EVENTS_TOPIC": topic,
        "CITYIOT_KAFKA_DEADLETTER_TOPIC": f"bench.{guarantee}.deadletter",
        "CITYIOT_KAFKA_ALERTS_TOPIC": f"bench.{guarantee}.alerts",
        "CITYIOT_KAFKA_PARTITIONS": str(PARTITIONS),
        "CITYIOT_INFLUXDB_URL": servers.influxdb_url,
        "CITYIOT_INFLUXDB_DATABASE": db,
        "CITYIOT_RUN_DIR": str(tmp / "run"),
        "CITYIOT_STREAM_APP_ID": group,
        "CITYIOT_STREAM_PROCESSING_GUARANTEE": guarantee,
        "CITYIOT_STREAM_METRICS_PORT": str(metrics_port),
        "CITYIOT_STREAM_BATCH_MAX_EVENTS": str(args.batch),
        "CITYIOT_STREAM_REBALANCE_TIMEOUT_S": "5",
        "CITYIOT_STREAM_SESSION_TIMEOUT_S": "6",
        "CITYIOT_STREAM_HEARTBEAT_INTERVAL_S": "1",
        "CITYIOT_STREAM_COMMIT_INTERVAL_S": str(args.commit_interval),
    }
    broker_pid = next(s.pid for s in servers.state().servers if s.name == "kafka")
    log = tmp / f"worker-{guarantee}.log"
    n = len(records)

    def committed() -> int:
        return _committed(bootstrap, group, topic)

    worker = _start_worker(env, log)
    try:
        _wait_committed(worker, log, lambda: committed() > 0 or 0, "before its first commit")
        t0, b0 = time.monotonic(), _cpu_s(broker_pid)
        c0, n0 = _cpu_s(worker.pid), committed()
        cpu = 0.0
        if args.kill:
            _wait_committed(worker, log, lambda: (c := committed()) >= n // 2 or c, "halfway")
            # Right after a commit nothing would be replayed: half an interval later, about
            # half an interval's work is processed and not committed.
            time.sleep(args.commit_interval / 2)
            cpu += _cpu_s(worker.pid) - c0
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = _start_worker(env, log)
            c0 = 0.0  # the new worker's CPU counts from its start: recovery is part of the cost
        _wait_committed(worker, log, lambda: (c := committed()) >= n or c, "before the end")
        wall = time.monotonic() - t0
        cpu += _cpu_s(worker.pid) - c0
        broker_cpu = _cpu_s(broker_pid) - b0
        samples = scrape(metrics_port)
        duplicates = int(samples.get("cityiot_stream_events_total{result=duplicate}", 0))
    finally:
        worker.terminate()
        worker.wait(60)
    exact, detail = _check(servers.influxdb_url, db, fleet.truth)
    alerts = env["CITYIOT_KAFKA_ALERTS_TOPIC"]
    return Result(
        guarantee,
        n - n0,
        wall,
        cpu,
        broker_cpu,
        duplicates,
        *_alerts(bootstrap, alerts, "read_uncommitted"),
        _alerts(bootstrap, alerts, "read_committed")[0],
        exact,
        detail,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=5000, help="CITYIOT_STREAM_BATCH_MAX_EVENTS")
    parser.add_argument(
        "--commit-interval",
        type=float,
        default=2.0,
        help="CITYIOT_STREAM_COMMIT_INTERVAL_S (with exactly_once: a transaction per interval)",
    )
    parser.add_argument("--guarantee", choices=GUARANTEES, action="append")
    parser.add_argument("--kill", action="store_true", help="SIGKILL the worker halfway")
    parser.add_argument(
        "--keep",
        type=Path,
        help="run here and keep it (workers' and servers' logs) instead of a temp dir",
    )
    args = parser.parse_args()
    guarantees = args.guarantee or list(GUARANTEES)

    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        tmp = args.keep or stack.enter_context(tempfile.TemporaryDirectory())
        servers = LocalServers(
            run_dir=Path(tmp) / "servers",
            mqtt_port=free_port(),
            kafka_port=free_port(),
            influxdb_port=free_port(),
            kafka="apache",
        )
        with servers:
            for guarantee in guarantees:
                results.append(run_one(servers, Path(tmp), guarantee, args))
                r = results[-1]
                print(
                    f"{r.guarantee}: {r.events:,} events in {r.wall_s:.1f} s wall, "
                    f"{r.events / r.wall_s:,.0f} events/s; worker {r.worker_cpu_s:.1f} CPU-s = "
                    f"{r.events / r.worker_cpu_s:,.0f} events/CPU-s; broker {r.broker_cpu_s:.1f} "
                    f"CPU-s; duplicates dropped {r.duplicates:,}; alerts {r.alerts:,} "
                    f"({r.alert_repeats:,} repeats, {r.alerts_committed:,} read_committed); "
                    f"exact={r.exact} ({r.detail})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
