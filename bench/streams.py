"""Events per second of one streams worker, end to end (Kafka → dedup → InfluxDB → commit).

    .venv/bin/python bench/streams.py                       # 100,000 events, 2,000 devices
    .venv/bin/python bench/streams.py --events 200000 --profile /tmp/streams.prof

Starts its own Tansu and InfluxDB (free ports, temp dir), produces synthetic envelopes
(``streams.synthetic``) to a 4-partition topic, then starts one worker (``python -m streams``)
and times it from its first committed offset to the last: every event decoded, deduplicated,
written raw and rolled up into InfluxDB, its state changelogged and its offset committed.
Prints events/s of wall time and per CPU-second of the worker (the machine is shared: CPU
time is the steadier figure), and the pure core's share (decode, processing) measured in-process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and "streams" would be this file.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402
from confluent_kafka.cimpl import NewTopic  # noqa: E402

from cityiot.local.ports import free_port  # noqa: E402
from cityiot.local.runner import LocalServers  # noqa: E402
from schemas import Envelope  # noqa: E402
from streams.processor import BatchResult, Processor  # noqa: E402
from streams.synthetic import Fleet  # noqa: E402

PARTITIONS = 4
TOPIC = "bench.events"
GROUP = "bench-streams"


def _committed(bootstrap: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP})
    try:
        tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        for _ in range(50):
            try:
                return sum(max(tp.offset, 0) for tp in consumer.committed(tps, timeout=20))
            except KafkaException:
                # Apache Kafka answers NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS while the
                # group coordinator moves or loads (librdkafka does not mark them retriable).
                time.sleep(0.2)
        raise RuntimeError("committed offsets: the group coordinator never answered")
    finally:
        consumer.close()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core(values: list[bytes]) -> None:
    """The pure core alone: decode only, then decode + dedup + points + roll-ups."""
    started = time.process_time()
    for v in values:
        Envelope.model_validate_json(v)
    decode = time.process_time() - started
    processor = Processor(lateness_ms=600_000)
    result = BatchResult()
    started = time.process_time()
    for i in range(0, len(values), 5000):
        processor.process(0, enumerate(values[i : i + 5000]), result)
    total = time.process_time() - started
    n = len(values)
    print(f"core: decode {n / decode:,.0f} events/CPU-s ({decode / n * 1e6:.0f} µs/event)")
    print(
        f"core: decode+dedup+points+roll-ups {n / total:,.0f} events/CPU-s "
        f"({total / n * 1e6:.0f} µs/event, {len(result.lines) / n:.2f} lines/event)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=5000, help="CITYIOT_STREAM_BATCH_MAX_EVENTS")
    parser.add_argument("--profile", type=Path, help="write the worker's cProfile stats here")
    args = parser.parse_args()

    fleet = Fleet(devices=args.devices)
    records = fleet.records(args.events, span_ms=args.events * 10)
    core([r.value for r in records[:20_000]])

    with tempfile.TemporaryDirectory() as tmp:
        servers = LocalServers(
            run_dir=Path(tmp) / "servers",
            mqtt_port=free_port(),
            kafka_port=free_port(),
            influxdb_port=free_port(),
        )
        with servers:
            bootstrap = servers.kafka_bootstrap
            admin = AdminClient({"bootstrap.servers": bootstrap})
            admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(30)
            producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
            for r in records:
                while True:
                    try:
                        producer.produce(TOPIC, key=r.key, value=r.value)
                        break
                    except BufferError:
                        producer.poll(0.1)
            producer.flush(120)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")},
                "CITYIOT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "CITYIOT_KAFKA_EVENTS_TOPIC": TOPIC,
                "CITYIOT_KAFKA_PARTITIONS": str(PARTITIONS),
                "CITYIOT_INFLUXDB_URL": servers.influxdb_url,
                "CITYIOT_INFLUXDB_DATABASE": "bench",
                "CITYIOT_RUN_DIR": str(Path(tmp) / "run"),
                "CITYIOT_STREAM_APP_ID": GROUP,
                "CITYIOT_STREAM_BATCH_MAX_EVENTS": str(args.batch),
                "CITYIOT_STREAM_REBALANCE_TIMEOUT_S": "5",
                "CITYIOT_STREAM_SESSION_TIMEOUT_S": "6",
                "CITYIOT_STREAM_HEARTBEAT_INTERVAL_S": "1",
                "CITYIOT_STREAM_COMMIT_INTERVAL_S": "0.5",
            }
            profile = ["-m", "cProfile", "-o", str(args.profile)] if args.profile else []
            cmd = [sys.executable, *profile, "-m", "streams"]
            worker = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
            try:
                while _committed(bootstrap) == 0:
                    time.sleep(0.2)
                t0, c0, n0 = time.monotonic(), _cpu_s(worker.pid), _committed(bootstrap)
                while (n := _committed(bootstrap)) < len(records):
                    time.sleep(0.2)
                wall, cpu = time.monotonic() - t0, _cpu_s(worker.pid) - c0
            finally:
                worker.terminate()
                worker.wait(60)
    done = n - n0
    print(f"worker: {done:,} events in {wall:.1f} s, {cpu:.1f} CPU-s")
    print(f"worker: {done / wall:,.0f} events/s per worker (wall)")
    print(f"worker: {done / cpu:,.0f} events per CPU-second of the worker")
    if args.profile:
        print(f"profile: {args.profile} (python -m pstats {args.profile})")


if __name__ == "__main__":
    main()
