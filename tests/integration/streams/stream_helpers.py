"""Helpers of the streams integration tests: worker processes, a private InfluxDB, queries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from tests_support import eventually

from cityiot.local import configs, ports, probes
from core.settings import Settings
from streams.synthetic import Record, Truth

# influxd answers within seconds; this covers a loaded 2-core machine.
INFLUXDB_START_S = 60.0


def env_of(settings: Settings) -> dict[str, str]:
    """``CITYIOT_*`` variables reproducing ``settings`` in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    for section in ("kafka", "influxdb", "stream"):
        for name, value in getattr(settings, section).model_dump().items():
            if value is not None:
                env[f"CITYIOT_{section}_{name}".upper()] = str(value)
    env["CITYIOT_RUN_DIR"] = str(settings.run_dir)
    if settings.registry_path is not None:
        env["CITYIOT_REGISTRY_PATH"] = str(settings.registry_path)
    return env


class WorkerProcess:
    """``python -m streams`` as a real child process (so SIGKILL is real)."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams"],
                env=env_of(self.settings),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no commit, no flush, nothing graceful."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)

    def assert_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{tail}")


def produce(bootstrap: str, topic: str, records: Iterable[Record]) -> int:
    """Produce with confluent-kafka like the collectors do (key = device_id); returns the count."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    n = 0
    for r in records:
        while True:
            try:
                producer.produce(topic, key=r.key, value=r.value)
                break
            except BufferError:
                producer.poll(0.1)
        n += 1
    assert producer.flush(60) == 0
    return n


def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """Sum of the group's committed offsets on ``topic`` (0 for none)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=20)
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        consumer.close()


def query(url: str, db: str, q: str) -> list[dict[str, Any]]:
    """InfluxQL through /query; returns the first result's series (empty list for none)."""
    params = urllib.parse.urlencode({"db": db, "q": q, "epoch": "ns"})
    with urllib.request.urlopen(f"{url}/query?{params}", timeout=30) as resp:
        body = json.loads(resp.read())
    result = body["results"][0]
    if "error" in result:
        raise AssertionError(f"query failed: {result['error']}")
    series: list[dict[str, Any]] = result.get("series", [])
    return series


class PrivateInfluxDB:
    """An influxd of the test's own (so it can be stopped without disturbing other tests)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.port = ports.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        run_dir.mkdir(parents=True, exist_ok=True)
        self.conf = run_dir / "influxdb.conf"
        self.conf.write_text(
            configs.influxdb_conf(http_port=self.port, rpc_port=ports.free_port(), data_dir=run_dir)
        )

    def start(self) -> None:
        binary = "/usr/bin/influxd" if Path("/usr/bin/influxd").exists() else "influxd"
        with (self.run_dir / "influxd.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [binary, "run", "-config", str(self.conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

        def ready() -> None:
            try:
                probes.influxdb_ready(self.url, "_internal_probe")
            except probes.ProbeFailed as exc:
                raise AssertionError(str(exc)) from None

        eventually(ready, what=f"private InfluxDB at {self.url}", timeout=INFLUXDB_START_S)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        ports.wait_port_free(self.port)


def _rows(url: str, db: str, q: str, *tags: str) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """{(tag values): (aggregates...)} of a one-row-per-series query."""
    return {
        tuple(s.get("tags", {}).get(t, "") for t in tags): tuple(s["values"][0][1:])
        for s in query(url, db, q)
    }


def assert_exact(url: str, db: str, truth: Truth) -> None:
    """Raw points and 1-minute roll-ups in InfluxDB equal the truth, per district and payment
    (sales) or category (drop-offs), and per window; per-kind raw counts too."""
    for kind, count in truth.events.items():
        got = _rows(url, db, f'SELECT count("seq") FROM "{kind}"')  # noqa: S608
        assert got.get((), (0,))[0] == count, f"raw {kind}: {got} != {count}"
    want_sales = {(d, p): (n, truth.fen[(d, p)]) for (d, p), n in truth.sales.items()}
    raw_sales: dict[tuple[str, ...], tuple[Any, ...]] = {}
    for payment in {p for _, p in truth.sales}:
        q = (
            'SELECT count("amount_fen"), sum("amount_fen") FROM "vending_sale" '  # noqa: S608
            f'WHERE "payment" = \'{payment}\' GROUP BY "district"'
        )
        for (district,), row in _rows(url, db, q, "district").items():
            raw_sales[(district, payment)] = row
    assert raw_sales == want_sales, "raw sales per district and payment"
    q = (
        'SELECT sum("count"), sum("amount_fen") FROM "vending_sale_1m" '
        'GROUP BY "district", "payment"'
    )
    assert _rows(url, db, q, "district", "payment") == want_sales, "vending_sale_1m"
    q = 'SELECT sum("count"), sum("amount_fen") FROM "vending_sale_device_1m"'
    assert _rows(url, db, q) == {(): (sum(truth.sales.values()), sum(truth.fen.values()))}
    want_drop = {(d, c): (n, truth.grams[(d, c)]) for (d, c), n in truth.dropoffs.items()}
    raw_drop: dict[tuple[str, ...], tuple[Any, ...]] = {}
    for category in {c for _, c in truth.dropoffs}:
        q = (
            'SELECT count("weight_g"), sum("weight_g") FROM "recycling_dropoff" '  # noqa: S608
            f'WHERE "category" = \'{category}\' GROUP BY "district"'
        )
        for (district,), row in _rows(url, db, q, "district").items():
            raw_drop[(district, category)] = row
    assert raw_drop == want_drop, "raw drop-offs per district and category"
    q = (
        'SELECT sum("count"), sum("weight_g") FROM "recycling_dropoff_1m" '
        'GROUP BY "district", "category"'
    )
    assert _rows(url, db, q, "district", "category") == want_drop, "recycling_dropoff_1m"
    first, last = min(truth.sales_per_window), max(truth.sales_per_window)
    q = (
        'SELECT sum("count") FROM "vending_sale_1m" '  # noqa: S608
        f"WHERE time >= {first}ms AND time <= {last}ms GROUP BY time(1m) fill(none)"
    )
    series = query(url, db, q)
    per_window = {row[0] // 1_000_000: row[1] for s in series for row in s["values"]}
    assert per_window == dict(truth.sales_per_window), "sales per 1-minute window"


def read_topic(bootstrap: str, topic: str, partitions: int) -> list[tuple[bytes, bytes]]:
    """Every ``(key, value)`` of ``topic`` from the beginning, until it stays quiet for 1 s."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "cityiot-tests-reader",  # assign() joins no group; librdkafka wants one
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out: list[tuple[bytes, bytes]] = []
        while True:
            batch = consumer.consume(num_messages=10_000, timeout=1.0)
            if not batch:
                return out
            out.extend(
                (m.key() or b"", m.value() or b"")
                for m in batch
                if m.error() is None and m.value() is not None
            )
    finally:
        consumer.close()
