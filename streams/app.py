"""The streams worker: city.events.v1 → dedup → raw points and 1-minute roll-ups → InfluxDB.

Top to bottom in data-flow order: the Faust app and its topics, the state table, the batch
handler (decode, dedup, points, roll-ups → InfluxDB → state changelog → ack), device health.

Quick start (servers from ``cityiot services up``)::

    cityiot stream            # or: python -m streams

Exactness comes from the order of effects in :meth:`Pipeline.handle`, not from Kafka
transactions: (1) the points of a batch are written to InfluxDB (idempotent: a rewrite lands on
the same point), (2) then the changed device states go to the table's changelog and are flushed,
(3) then the records are acked, and Faust commits acked offsets only. A crash between any two
steps replays the batch against a state that either lacks it entirely (rewrites the same points)
or includes it entirely (drops it as duplicates: its points are already written).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cityiot.settings import Settings
from schemas import Registry, load_registry
from streams.consumer import StreamsApp
from streams.deadletter import StreamDeadLetter
from streams.health import health_lines
from streams.influx import DeadLine, Sink, V1Writer, V2Writer, Writer
from streams.metrics import METRICS
from streams.processor import BatchResult, Processor
from streams.state import DeviceState, PartitionState, state_key
from streams.tail import read_tail

__all__ = ["TABLE_NAME", "Pipeline", "create_app"]

log = logging.getLogger(__name__)

TABLE_NAME = "device_state"


def create_app(settings: Settings) -> StreamsApp:
    """The Faust app of one worker, wired to its pipeline (``app.pipeline``)."""
    s = settings.stream
    datadir = Path(s.data_dir) if s.data_dir else settings.run_dir / "streams" / s.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = StreamsApp(
        s.app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka.bootstrap_servers.split(",")],
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=1,
        broker_rebalance_timeout=s.rebalance_timeout_s,
        broker_session_timeout=s.session_timeout_s,
        broker_heartbeat_interval=s.heartbeat_interval_s,
        broker_commit_interval=s.commit_interval_s,
        broker_max_poll_records=s.batch_max_events,
        consumer_max_fetch_size=s.max_fetch_bytes,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        table_standby_replicas=s.standby_replicas,
        stream_wait_empty=True,
        # Tansu's high watermark can trail the real end (FACTS.md), which makes a standby's
        # applied offset look "ahead" and fails this check; streams/tail.py covers the gap.
        recovery_consistency_check=False,
        web_enabled=False,
        datadir=str(datadir),
    )
    # The events, as bytes: decoded by the schemas' Envelope in the handler, nothing else.
    events = app.topic(settings.kafka.events_topic, key_serializer="raw", value_serializer="raw")
    deadletters = app.topic(
        settings.kafka.deadletter_topic, key_serializer="raw", value_serializer="raw"
    )
    # One record per device (key "partition:device_id", written to that partition's changelog).
    table = app.Table(
        TABLE_NAME,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.kafka.partitions,
    )
    registry = load_registry(settings.registry_path) if settings.registry_path else None
    pipeline = Pipeline(
        app=app, settings=settings, table=table, deadletters=deadletters, registry=registry
    )
    app.pipeline = pipeline
    app.topics.add(events)
    app.batch_topics = frozenset({settings.kafka.events_topic})
    app.batch_handler = pipeline.handle
    app.on_partitions_revoked.connect(pipeline.on_revoked)
    app.timer(s.health_interval_s)(pipeline.write_health)
    return app


def _writer(settings: Settings) -> Writer:
    s, db = settings.stream, settings.influxdb
    token = db.token.get_secret_value() if db.token else None
    if s.influx_api == "v2":
        return V2Writer(
            url=db.url,
            bucket=db.database,
            org=s.influx_org,
            token=token,
            timeout_s=s.influx_timeout_s,
        )
    return V1Writer(
        url=db.url,
        database=db.database,
        username=db.username,
        password=db.password.get_secret_value() if db.password else None,
        token=token,
        timeout_s=s.influx_timeout_s,
    )


class Pipeline:
    """The batch handler and the health timer of one worker, around a :class:`Processor`."""

    def __init__(
        self,
        *,
        app: StreamsApp,
        settings: Settings,
        table: Any,
        deadletters: Any,
        registry: Registry | None,
    ) -> None:
        s = settings.stream
        self.app = app
        self.settings = settings
        self.table = table
        self.deadletters = deadletters
        self.registry = registry
        self.processor = Processor(
            lateness_ms=s.allowed_lateness_s * 1000,
            missing_max=s.dedup_missing_max,
            reset_distance=s.dedup_reset_distance,
        )
        self.sink = Sink(
            _writer(settings),
            chunk_lines=s.influx_batch_lines,
            retry_initial_s=s.influx_retry_initial_s,
            retry_max_s=s.influx_retry_max_s,
        )
        self._sink_started = False

    # -- the hot path --------------------------------------------------------------------------
    async def handle(self, messages: list[Any]) -> None:
        """Process one fetch: points → InfluxDB → state changelog → ack. Retries until done."""
        started = time.perf_counter()
        if not self._sink_started:
            await self.sink.writer.start()
            self._sink_started = True
        by_partition: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
        for message in messages:
            by_partition[message.partition].append((message.offset, message.value))
        result = BatchResult()
        for partition, records in by_partition.items():
            await self._ensure_loaded(partition)
            self.processor.process(partition, records, result)
        dead = await self.sink.write(result.lines)
        await self._dead_letter(result, dead)
        self._persist(result.dirty)
        await self.app.producer.flush()
        consumer = self.app.consumer
        for message in messages:
            consumer.ack(message)
        METRICS.events.labels(result="accepted").inc(result.accepted - result.late)
        METRICS.events.labels(result="late").inc(result.late)
        METRICS.events.labels(result="duplicate").inc(result.duplicates)
        METRICS.events.labels(result="rejected").inc(len(result.rejected))
        METRICS.batch_seconds.observe(time.perf_counter() - started)

    async def _ensure_loaded(self, partition: int) -> None:
        """After an assignment (and Faust's recovery of the table), load the partition's state."""
        if partition in self.processor.partitions:
            return
        tail = await asyncio.to_thread(
            read_tail,
            self.settings.kafka.bootstrap_servers,
            self.table.changelog_topic.get_topic_name(),
            partition,
        )
        for key, raw in tail:
            if raw is None:
                self.table.data.pop(key, None)
            else:
                self.table.data[key] = raw
        prefix = f"{partition}:".encode()
        part = PartitionState(partition)
        for key, raw in list(self.table.data.items()):
            if key.startswith(prefix):
                dev = DeviceState.load(raw)
                part.devices[dev.device_id] = dev
        part.rebuild_groups()
        self.processor.partitions[partition] = part
        log.info("partition loaded partition=%d devices=%d", partition, len(part.devices))

    def _persist(self, dirty: Iterable[tuple[int, str]]) -> None:
        data = self.table.data
        send = self.table.send_changelog
        partitions = self.processor.partitions
        for partition, device_id in dirty:
            key = state_key(partition, device_id)
            raw = partitions[partition].devices[device_id].dump()
            data[key] = raw
            send(partition, key, raw, key_serializer="raw", value_serializer="raw")

    async def _dead_letter(self, result: BatchResult, dead: list[DeadLine]) -> None:
        app_id = self.settings.stream.app_id
        records: list[tuple[str, StreamDeadLetter]] = []
        for rej in result.rejected:
            records.append(
                (
                    "invalid_envelope",
                    StreamDeadLetter(
                        reason="invalid_envelope",
                        detail=rej.error[:2000],
                        app_id=app_id,
                        topic=self.settings.kafka.events_topic,
                        partition=rej.partition,
                        offset=rej.offset,
                    ),
                )
            )
        for d in dead:
            records.append(
                (
                    "influx_rejected",
                    StreamDeadLetter(
                        reason="influx_rejected",
                        detail=d.error,
                        app_id=app_id,
                        line=d.line,
                        status=d.status,
                    ),
                )
            )
        for reason, record in records:
            await self.deadletters.send(value=record.model_dump_json().encode())
            METRICS.deadletters.labels(reason=reason).inc()
            log.warning("dead letter reason=%s detail=%r", reason, record.detail[:200])

    async def on_revoked(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Forget revoked partitions: if they come back, their state is loaded afresh."""
        topic = self.settings.kafka.events_topic
        revoked: Iterable[Any] = args[0] if args else kwargs.get("revoked", ())
        for tp in revoked:
            if tp.topic == topic:
                self.processor.partitions.pop(tp.partition, None)

    # -- device health ---------------------------------------------------------------------------
    def interval_for(self, dev: DeviceState) -> int:
        if self.registry is not None:
            record = self.registry.get(dev.device_id)
            if record is not None:
                return record.expected_interval_s
        return dev.expected_interval_s or self.settings.stream.default_expected_interval_s

    async def write_health(self) -> None:
        if not self._sink_started or not self.sink.available:
            return
        lines = health_lines(
            list(self.processor.partitions.values()),
            now_ms=int(time.time() * 1000),
            tick_ms=int(self.settings.stream.health_interval_s * 1000),
            interval_for=self.interval_for,
        )
        METRICS.seq_gaps.set(
            sum(
                dev.seq.gaps
                for part in self.processor.partitions.values()
                for dev in part.devices.values()
            )
        )
        await self.sink.write_once(lines)
