"""The streams worker: city.events.v1 → dedup → raw points, 1-minute roll-ups, alerts → InfluxDB.

Top to bottom in data-flow order: the Faust app and its topics, the state table, the batch
handler (decode, dedup, points, roll-ups, alert rules → InfluxDB → city.alerts.v1 → state
changelog → ack), then the timers: alert tick (absence, offline), device health, platform stats.
The dead-letter topic is consumed too, into ``deadletters`` points (streams/platform.py).

Quick start (servers from ``cityiot services up``)::

    cityiot stream            # or: python -m streams

Exactness comes from the order of effects in :meth:`Pipeline.handle`, not from Kafka
transactions: (1) the points of a batch are written to InfluxDB (idempotent: a rewrite lands on
the same point), (2) then the changed device states go to the table's changelog and are flushed,
(3) then the records are acked, and Faust commits acked offsets only. A crash between any two
steps replays the batch against a state that either lacks it entirely (rewrites the same points)
or includes it entirely (drops it as duplicates: its points are already written). Alert changes
are produced to city.alerts.v1 between (1) and (2): a replay produces them again, identical
(same fingerprint, status and start: same idempotency key), and receivers drop the repeat.

The batch handler and the alert tick both change device state and write its changelog, so they
take turns (``Pipeline.lock``); so does a rebalance's revocation.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from confluent_kafka import KafkaException

from core.influx import InfluxTarget, V1Writer, V2Writer
from core.settings import Settings
from schemas import DeadLetter, DistrictIndex, StreamRejectReason
from streams.alerts import AlertEngine, build_zones, load_rules
from streams.changelog import ChangelogWriter
from streams.consumer import StreamsApp, ack_batch, events_lag
from streams.health import health_lines
from streams.influx import DeadLine, Sink, Writer
from streams.metrics import METRICS
from streams.platform import StatsCounters, deadletter_point, stats_point
from streams.processor import BatchResult, Processor
from streams.state import DeviceState, PartitionState, state_key
from streams.tail import read_tail

__all__ = ["TABLE_NAME", "Pipeline", "create_app"]

log = logging.getLogger(__name__)

TABLE_NAME = "device_state"
# Reading a changelog's tail while Kafka is away: the first retry after 1 s, doubling to 30 s.
TAIL_RETRY_MIN_S = 1.0
TAIL_RETRY_MAX_S = 30.0


def create_app(settings: Settings) -> StreamsApp:
    """The Faust app of one worker, wired to its pipeline (``app.pipeline``)."""
    s = settings.stream
    datadir = Path(s.data_dir) if s.data_dir else settings.run_dir / "streams" / s.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = StreamsApp(
        s.app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka.bootstrap_servers.split(",")],
        broker_credentials=_broker_credentials(settings),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        broker_rebalance_timeout=s.rebalance_timeout_s,
        broker_session_timeout=s.session_timeout_s,
        broker_heartbeat_interval=s.heartbeat_interval_s,
        broker_commit_interval=s.commit_interval_s,
        broker_max_poll_records=s.batch_max_events,
        consumer_max_fetch_size=s.max_fetch_bytes,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        table_standby_replicas=s.standby_replicas,
        processing_guarantee=s.processing_guarantee,
        stream_wait_empty=True,
        # Tansu's high watermark can trail the real end (FACTS.md), which makes a standby's
        # applied offset look "ahead" and fails this check; streams/tail.py covers the gap.
        recovery_consistency_check=False,
        # Off: /healthz and /readyz share the metrics port (streams/probes.py), one port per
        # process; Faust's web server would be a second one, with no readiness of ours.
        web_enabled=False,
        datadir=str(datadir),
    )
    # Faust has no setting for it (streams/faust_private.py); read when the consumer is created.
    app.fetch_max_wait_ms = s.fetch_max_wait_ms
    app.fetch_min_bytes = s.fetch_min_bytes
    # The events, as bytes: decoded by the schemas' Envelope in the handler, nothing else.
    events = app.topic(settings.kafka.events_topic, key_serializer="raw", value_serializer="raw")
    # Read (into `deadletters` points) and written (records the sink or decoding rejects).
    deadletters = app.topic(
        settings.kafka.deadletter_topic, key_serializer="raw", value_serializer="raw"
    )
    alerts = app.topic(settings.kafka.alerts_topic, key_serializer="raw", value_serializer="raw")
    # One record per device (key "partition:device_id", written to that partition's changelog).
    table = app.Table(
        TABLE_NAME,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.kafka.partitions,
        extra_topic_configs=settings.kafka.topic_config(),
    )
    pipeline = Pipeline(
        app=app,
        settings=settings,
        table=table,
        deadletters=deadletters,
        alerts=alerts,
        engine=_engine(settings),
    )
    app.pipeline = pipeline
    app.topics.add(events)
    app.topics.add(deadletters)
    app.batch_topics = frozenset({settings.kafka.events_topic, settings.kafka.deadletter_topic})
    app.batch_handler = pipeline.handle
    app.on_partitions_revoked.connect(pipeline.on_revoked)
    app.on_partitions_assigned.connect(pipeline.on_assigned)
    app.timer(settings.alert.tick_interval_s)(pipeline.tick_alerts)
    app.timer(s.health_interval_s)(pipeline.write_health)
    app.timer(s.stats_interval_s)(pipeline.write_stats)
    if s.summary_interval_s:
        app.timer(s.summary_interval_s)(pipeline.log_summary)
    return app


def _broker_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """The worker's SASL user for every client Faust makes (consumer, producer, topic creation);
    None for PLAINTEXT."""
    k = settings.kafka
    if k.security_protocol == "PLAINTEXT":
        return None
    return faust.SASLCredentials(
        username=k.username,
        password=k.password.get_secret_value() if k.password else None,
        mechanism=k.sasl_mechanism,
        ssl_context=k.ssl_context(),
    )


def _engine(settings: Settings) -> AlertEngine:
    """The rules of ``CITYIOT_ALERT_RULES_PATH`` (default: the shipped ones), checked at start."""
    rules = load_rules(settings.alert.rules_path)
    if settings.districts_path is None:
        return AlertEngine(rules)  # loads the packaged boundaries if a geofence needs them
    return AlertEngine(rules, build_zones(rules, DistrictIndex.load(settings.districts_path)))


def _writer(settings: Settings) -> Writer:
    s, target = settings.stream, InfluxTarget.from_settings(settings.influxdb)
    if s.influx_api == "v2":
        return V2Writer(target, org=s.influx_org, timeout_s=s.influx_timeout_s)
    return V1Writer(target, timeout_s=s.influx_timeout_s)


class Pipeline:
    """The batch handler and the timers (alert tick, health, stats) of one worker, around a
    :class:`Processor`."""

    def __init__(
        self,
        *,
        app: StreamsApp,
        settings: Settings,
        table: Any,
        deadletters: Any,
        alerts: Any,
        engine: AlertEngine | None,
    ) -> None:
        s = settings.stream
        self.app = app
        self.settings = settings
        self.table = table
        self.deadletters = deadletters
        self.alerts = alerts
        self.processor = Processor(
            lateness_ms=s.allowed_lateness_s * 1000,
            missing_max=s.dedup_missing_max,
            reset_distance=s.dedup_reset_distance,
            engine=engine,
        )
        self.sink = Sink(
            _writer(settings),
            chunk_lines=s.influx_batch_lines,
            retry_initial_s=s.influx_retry_initial_s,
            retry_max_s=s.influx_retry_max_s,
        )
        self._sink_started = False
        self._sink_lock = asyncio.Lock()
        #: Taken by whatever changes device state: a batch, an alert tick, a revocation.
        self.lock = asyncio.Lock()
        self.stats = StatsCounters()
        self._stats_sent = StatsCounters()
        self._stats_logged = StatsCounters()
        self.instance = s.instance_id or f"{socket.gethostname()}:{s.app_id}"
        self._tail_config = {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            **settings.kafka.librdkafka_security(),
        }
        self.changelog = ChangelogWriter(
            self._tail_config, topic=table.changelog_topic.get_topic_name(), idempotent=True
        )

    async def _start_sink(self) -> None:
        async with self._sink_lock:
            if not self._sink_started:
                await self.sink.writer.start()
                self._sink_started = True

    # -- the hot path --------------------------------------------------------------------------
    async def handle(self, messages: list[Any]) -> None:
        """Process one fetch: points → InfluxDB → alerts → state changelog → ack. Retries until
        done."""
        started = time.perf_counter()
        await self._start_sink()
        events_topic = self.settings.kafka.events_topic
        prefix = self.settings.mqtt.topic_prefix
        by_partition: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
        dead_lines: list[str] = []
        for message in messages:
            if message.topic == events_topic:
                by_partition[message.partition].append((message.offset, message.value))
            else:
                ts_ms = int((message.timestamp or 0) * 1000)
                dead_lines.append(
                    deadletter_point(message.value or b"", kafka_ts_ms=ts_ms, topic_prefix=prefix)
                )
        dead_in = len(dead_lines)
        result = BatchResult(lines=dead_lines)  # the batch's lines grow from these
        async with self.lock:
            if self.table.data:
                self._forget_recovered()
            for partition, records in by_partition.items():
                await self._ensure_loaded(partition)
                self.processor.process(partition, records, result)
            await self._apply(result)
        await ack_batch(self.app.consumer, messages)
        stats = self.stats
        stats.events_in += len(messages) - dead_in
        stats.duplicates += result.duplicates
        stats.late += result.late
        stats.deadletters_in += dead_in
        METRICS.events.labels(result="accepted").inc(result.accepted - result.late)
        METRICS.events.labels(result="late").inc(result.late)
        METRICS.events.labels(result="duplicate").inc(result.duplicates)
        METRICS.events.labels(result="rejected").inc(len(result.rejected))
        METRICS.batch_seconds.observe(time.perf_counter() - started)

    async def _apply(self, result: BatchResult) -> None:
        """The effects of a batch or tick, in the order that makes a replay exact (module doc)."""
        dead = await self.sink.write(result.lines)
        await self._dead_letter(result, dead)
        for alert in result.alerts:
            await self.alerts.send(key=alert.key.encode(), value=alert.model_dump_json().encode())
            log.info(
                "alert status=%s rule=%s device_id=%r fingerprint=%s",
                alert.status,
                alert.rule,
                alert.device_id,
                alert.fingerprint,
            )
        # The alerts and dead letters are in Kafka before the state that says they were sent.
        await self.app.producer.flush()
        self._persist(result.dirty)
        await self.changelog.flush()

    async def _read_tail(self, partition: int) -> list[tuple[bytes, bytes | None]]:
        """The changelog's tail, waiting for Kafka as long as it takes: a worker whose Kafka is
        away holds its batch (nothing acked) instead of crashing."""
        topic = self.table.changelog_topic.get_topic_name()
        delay = TAIL_RETRY_MIN_S
        while True:
            try:
                return await asyncio.to_thread(
                    read_tail, self._tail_config, self.settings.stream.app_id, topic, partition
                )
            except KafkaException as exc:
                log.warning(
                    "changelog not readable topic=%s partition=%d error=%r (retrying in %.0f s)",
                    topic,
                    partition,
                    exc.args[0].str() if exc.args else str(exc),
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, TAIL_RETRY_MAX_S)

    async def _ensure_loaded(self, partition: int) -> None:
        """After an assignment (and Faust's recovery of the table), load the partition's state."""
        if partition in self.processor.partitions:
            return
        tail = await self._read_tail(partition)
        for key, raw in tail:
            if raw is None:
                self.table.data.pop(key, None)
            else:
                self.table.data[key] = raw
        prefix = f"{partition}:".encode()
        part = PartitionState(partition)
        data = self.table.data
        for key in [key for key in data if key.startswith(prefix)]:
            # Out of Faust's table once loaded: the device states are the partition's state
            # from now on, and a copy of each record beside them was ~5 KB a device at city
            # scale. Faust's in-memory store recovers a partition from the changelog's start
            # on every assignment, so a partition that comes back is read afresh.
            dev = DeviceState.load(data.pop(key))
            part.devices[dev.device_id] = dev
        part.rebuild_groups()
        self.processor.partitions[partition] = part
        log.info("partition loaded partition=%d devices=%d", partition, len(part.devices))

    def _forget_recovered(self) -> None:
        """Drop what Faust's recovery put in its table for partitions loaded already: a
        partition kept through a rebalance is recovered again from where Faust's last recovery
        stopped, so this worker's own records since then come back into the table."""
        loaded = {f"{p}:".encode() for p in self.processor.partitions}
        data = self.table.data
        for key in [key for key in data if key[: key.index(b":") + 1] in loaded]:
            del data[key]

    def _persist(self, dirty: Iterable[tuple[int, str]]) -> None:
        """The dirty devices' records to the changelog (not to Faust's table: _ensure_loaded),
        through librdkafka (streams/changelog.py)."""
        produce = self.changelog.produce
        partitions = self.processor.partitions
        for partition, device_id in dirty:
            produce(
                partition,
                state_key(partition, device_id),
                partitions[partition].devices[device_id].dump(),
            )

    async def _dead_letter(self, result: BatchResult, dead: list[DeadLine]) -> None:
        app_id = self.settings.stream.app_id
        records: list[DeadLetter] = []
        for rej in result.rejected:
            records.append(
                DeadLetter(
                    source="streams",
                    reason=StreamRejectReason.INVALID_ENVELOPE,
                    detail=rej.error[:2000],
                    app_id=app_id,
                    topic=self.settings.kafka.events_topic,
                    partition=rej.partition,
                    offset=rej.offset,
                    received_at=datetime.now(UTC),
                )
            )
        for d in dead:
            records.append(
                DeadLetter(
                    source="streams",
                    reason=StreamRejectReason.INFLUX_REJECTED,
                    detail=d.error,
                    app_id=app_id,
                    line=d.line,
                    status=d.status,
                    received_at=datetime.now(UTC),
                )
            )
        for record in records:
            reason = record.reason.value
            await self.deadletters.send(value=record.model_dump_json().encode())
            METRICS.deadletters.labels(reason=reason).inc()
            log.warning("dead letter reason=%s detail=%r", reason, record.detail[:200])

    async def on_assigned(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Say which partitions of the events topic this worker now owns."""
        topic = self.settings.kafka.events_topic
        assigned: Iterable[Any] = args[0] if args else kwargs.get("assigned", ())
        mine = sorted(tp.partition for tp in assigned if tp.topic == topic)
        log.info("partitions assigned topic=%s partitions=%s", topic, mine)

    async def on_revoked(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Forget revoked partitions: if they come back, their state is loaded afresh."""
        topic = self.settings.kafka.events_topic
        revoked: Iterable[Any] = args[0] if args else kwargs.get("revoked", ())
        # After a running tick: it must not write a changelog the next owner has already read.
        async with self.lock:
            for tp in revoked:
                if tp.topic == topic:
                    self.processor.partitions.pop(tp.partition, None)

    # -- alert tick ------------------------------------------------------------------------------
    async def tick_alerts(self) -> None:
        """Absence and offline rules at the wall clock, with the same effects order as a batch.

        A replayed tick (a crash before its changelog) fires the same alerts with the same start
        times: the engine derives them from receive times, not from ``now``.
        """
        if self.processor.engine is None:
            return
        await self._start_sink()
        async with self.lock:
            result = BatchResult()
            self.processor.tick(datetime.now(UTC), result)
            if result.lines or result.dirty:
                await self._apply(result)

    # -- device health ---------------------------------------------------------------------------
    def interval_for(self, dev: DeviceState) -> int:
        # From the enrichment the device's messages carry (the collector's registry): the worker
        # keeps no registry of its own, 166 MB for a city of 115,000 devices.
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
        METRICS.device_resets.set(
            sum(
                dev.seq.resets
                for part in self.processor.partitions.values()
                for dev in part.devices.values()
            )
        )
        await self.sink.write_once(lines)

    # -- the log ---------------------------------------------------------------------------------
    async def log_summary(self) -> None:
        """One line a period: what came in and went out since the last one, and the lag."""
        now = self.stats.copy()
        now.points_written = self.sink.lines_written
        now.write_errors = self.sink.write_errors
        delta = now.minus(self._stats_logged)
        self._stats_logged = now
        period = self.settings.stream.summary_interval_s
        devices = sum(len(p.devices) for p in self.processor.partitions.values())
        log.info(
            "summary events=%d rate=%.1f/s duplicates=%d late=%d points=%d write_errors=%d "
            "deadletters=%d lag=%d partitions=%s devices=%d influxdb=%s",
            delta["events_in"],
            delta["events_in"] / period,
            delta["duplicates"],
            delta["late"],
            delta["points_written"],
            delta["write_errors"],
            delta["deadletters_in"],
            events_lag(self.app.consumer, self.settings.kafka.events_topic),
            self._assigned(),
            devices,
            "up" if self.sink.available else "DOWN",
        )

    def _assigned(self) -> list[int]:
        topic = self.settings.kafka.events_topic
        try:
            return sorted(
                tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic
            )
        except Exception:  # not started or between generations: nothing owned right now
            return []

    # -- platform stats --------------------------------------------------------------------------
    async def write_stats(self) -> None:
        """One ``platform_stats`` point: deltas since the last point InfluxDB accepted."""
        await self._start_sink()
        now = self.stats.copy()
        now.points_written = self.sink.lines_written
        now.write_errors = self.sink.write_errors
        point = stats_point(
            now.minus(self._stats_sent),
            kafka_lag=events_lag(self.app.consumer, self.settings.kafka.events_topic),
            instance=self.instance,
            ts_ns=time.time_ns(),
        )
        if await self.sink.write_once([point]):
            # This point's own line counts in the next one.
            self._stats_sent = now
