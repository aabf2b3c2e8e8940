"""The collector service: MQTT source → pure pipeline → Kafka sink, acking after Kafka.

With MQTT 5 (the default) one thread does everything: the loop in :meth:`Collector.run` reads
what the broker sent (:class:`~collectors.mqtt5_session.Mqtt5Session`, many messages per read),
runs the pipeline, queues the records in librdkafka, serves Kafka's delivery reports and writes
the PUBACKs that became due in one go. With MQTT 3.1.1 (:class:`~collectors.mqtt_source.MqttSource`,
paho) there are two: paho's network thread receives, runs the pipeline and produces; the loop
serves delivery reports and sends the PUBACKs. Either way messages wait in one FIFO in arrival
order and are acked strictly in that order (MQTT requires PUBACKs in the order the PUBLISHes
arrived), each only once Kafka acknowledged the record it became. At most ``max_in_flight`` wait:
MQTT 5 Receive Maximum makes the broker hold the rest; with MQTT 3.1.1 the network thread blocks.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial

from confluent_kafka import KafkaError, Message

from adapters import AdapterSet, load_adapters
from collectors.kafka_sink import KafkaSink, KafkaSinkError
from collectors.metrics import CollectorStats, MetricsServer, summary_line
from collectors.mqtt5_session import Mqtt5Session
from collectors.mqtt_source import MqttSource
from collectors.pipeline import Inbound, Pipeline, Routed
from collectors.probes import KafkaBrokers
from collectors.ratelimit import TokenBuckets, VendorQuota
from core.errors import CityiotError
from core.probes import Heartbeat
from core.settings import Settings
from core.signals import stop_on_signals
from schemas import DistrictIndex, Registry, load_registry

__all__ = ["Collector", "CollectorError", "build_pipeline", "run_collector"]

log = logging.getLogger(__name__)

# How long the loop waits for delivery reports while records are in flight: bounds the ack
# latency (Kafka's own batching, linger_ms, adds to it).
PUMP_POLL_S = 0.02
# How long it waits for MQTT when nothing is in flight: the reaction time to a stop request.
IDLE_POLL_S = 0.25
# A record Kafka refused (only non-retriable errors reach us: retries are infinite) is produced
# again after this pause, so a broken topic does not spin the CPU.
RETRY_DELAY_S = 1.0
# Waiting for Kafka at start: the first retry after 1 s, doubling to 30 s.
START_RETRY_MIN_S = 1.0
START_RETRY_MAX_S = 30.0
# Waiting for the first connection: after this, say so in the log (paho keeps retrying).
CONNECT_NOTICE_S = 10.0


class CollectorError(CityiotError):
    """The collector had to stop (Kafka fatal error, a bug in the pipeline)."""


@dataclass(slots=True, eq=False)
class _Entry:
    """One received message on its way to Kafka."""

    generation: int
    mid: int
    qos: int
    received: float  # time.monotonic() at receipt
    routed: Routed
    done: bool = False
    retry_at: float = field(default=0.0)


def build_pipeline(settings: Settings) -> Pipeline:
    """The pipeline of ``settings``: loads the registry, the vendors' payload adapters and, when
    needed, district boundaries.

    Raises:
        AdapterError: An adapter file is not usable (the message names file, rule and field).
    """
    c = settings.collector
    registry: Registry | None = None
    if settings.registry_path is not None:
        registry = load_registry(settings.registry_path)
    # Boundaries are needed only to locate mobile positions: of registered mobile devices, or
    # of anyone when unknown devices are accepted.
    needs_districts = c.unknown_devices == "accept" or (
        registry is not None and any(r.asset_type is not None for r in registry)
    )
    districts = DistrictIndex.load(settings.districts_path) if needs_districts else None
    limiter = None
    if c.rate_limit_per_s > 0:
        limiter = TokenBuckets(rate=c.rate_limit_per_s, burst=c.rate_limit_burst)
    vendor_quota = None
    if c.vendor_rate_limit_per_s > 0 or c.vendor_rate_limits:
        vendor_quota = VendorQuota(
            rate=c.vendor_rate_limit_per_s,
            burst=c.vendor_rate_limit_burst,
            overrides=c.vendor_rate_limits,
        )
    adapters: AdapterSet | None = None
    if c.adapters_dir is not None:
        adapters = load_adapters(c.adapters_dir, prefix=settings.mqtt.topic_prefix)
        log.info(
            "adapters loaded dir=%s names=%s",
            c.adapters_dir,
            ",".join(a.name for a in adapters.adapters) or "-",
        )
    return Pipeline(
        collector_id=c.client_id,
        registry=registry,
        districts=districts,
        unknown_devices=c.unknown_devices,
        limiter=limiter,
        vendor_quota=vendor_quota,
        adapters=adapters,
        prefix=settings.mqtt.topic_prefix,
        max_payload_bytes=c.max_payload_bytes,
        deadletter_payload_limit=c.deadletter_payload_limit_bytes,
    )


class Collector:
    """One collector replica. ``run(stop)`` blocks until ``stop`` is set, then stops cleanly."""

    def __init__(self, settings: Settings, *, pipeline: Pipeline | None = None) -> None:
        self.settings = settings
        c = settings.collector
        self.stats = CollectorStats()
        self.pipeline = pipeline if pipeline is not None else build_pipeline(settings)
        self._topics = {
            "event": settings.kafka.events_topic,
            "deadletter": settings.kafka.deadletter_topic,
        }
        self._max_in_flight = c.max_in_flight
        self._queue: deque[_Entry] = deque()
        self._retry: deque[_Entry] = deque()
        self._room = threading.Condition()
        self._stopping = False
        self._failure: BaseException | None = None
        self.stats.in_flight = self._queue.__len__
        # What /healthz and /readyz read (collectors/probes.py): the loop's turns, librdkafka's
        # connection reports, whether the topics were found at start.
        self.heartbeat = Heartbeat(c.liveness_timeout_s)
        self.kafka_brokers = KafkaBrokers()
        self._topics_ready = False
        self.sink = KafkaSink(
            bootstrap_servers=settings.kafka.bootstrap_servers,
            security=settings.kafka.librdkafka_security(),
            client_id=c.client_id,
            linger_ms=c.linger_ms,
            idempotent=c.idempotent_producer,
            extra=self.kafka_brokers.config(),
        )
        self.source: Mqtt5Session | MqttSource
        if settings.mqtt.protocol == "5":
            self.source = Mqtt5Session(mqtt_settings=settings.mqtt, collector=c, stats=self.stats)
        else:
            self.source = MqttSource(
                mqtt_settings=settings.mqtt, collector=c, handler=self._on_message, stats=self.stats
            )
        self.metrics: MetricsServer | None = None

    # -- network thread ----------------------------------------------------------------------
    def _on_message(self, inbound: Inbound, mid: int, qos: int, generation: int) -> None:
        if self._stopping:
            return  # not acked: the broker redelivers it to this session's next connection
        if len(self._queue) >= self._max_in_flight and isinstance(self.source, MqttSource):
            self._wait_for_room()
        try:
            routed = self.pipeline.route(inbound)
        except Exception as exc:
            # A bug, not bad input (that is dead-lettered). Stop without acking: the broker
            # keeps the message, and a fixed collector takes it.
            log.exception("pipeline failed topic=%r; stopping", inbound.topic)
            self._failure = exc
            self._stopping = True
            return
        self.stats.received += 1
        if routed.reason is not None:
            self.stats.rejected[routed.reason] += 1
        entry = _Entry(generation, mid, qos, inbound.monotonic, routed)
        self._queue.append(entry)
        self._produce(entry)

    def _wait_for_room(self) -> None:
        # Only reached with MQTT 3.1.1 (no Receive Maximum): block paho's network thread so
        # nothing more is read; the broker queues the rest. The MQTT 5 loop never gets here: it
        # stops reading instead (_turn).
        with self._room:
            while len(self._queue) >= self._max_in_flight and not self._stopping:
                self._room.wait(0.5)

    def _produce(self, entry: _Entry) -> None:
        r = entry.routed
        self.sink.produce(self._topics[r.kind], r.key, r.value, partial(self._delivered, entry))

    # -- pump thread -------------------------------------------------------------------------
    def _delivered(self, entry: _Entry, error: KafkaError | None, _msg: Message) -> None:
        if error is not None:
            self.stats.produce_errors += 1
            log.warning(
                "kafka refused record kind=%s error=%r (retrying in %.0f s)",
                entry.routed.kind,
                error.str(),
                RETRY_DELAY_S,
            )
            entry.retry_at = time.monotonic() + RETRY_DELAY_S
            self._retry.append(entry)
            return
        entry.done = True
        self.stats.produced[entry.routed.kind] += 1
        self.stats.observe_latency(time.monotonic() - entry.received)

    def _ack_delivered(self) -> int:
        """PUBACK the delivered messages at the head of the FIFO; returns how many left it."""
        queue, popped = self._queue, 0
        # Only this thread pops, so peeking at [0] then popping is race-free.
        while queue and queue[0].done:
            entry = queue.popleft()
            popped += 1
            if entry.qos == 0:
                continue
            if self.source.ack(entry.generation, entry.mid, entry.qos):
                self.stats.acked += 1
            else:
                self.stats.ack_skipped += 1
        if popped and len(queue) + popped >= self._max_in_flight:
            with self._room:
                self._room.notify()
        return popped

    def _retry_failed(self) -> None:
        now = time.monotonic()
        while self._retry and self._retry[0].retry_at <= now:
            self._produce(self._retry.popleft())

    def run(self, stop: threading.Event) -> None:
        """Collect until ``stop`` is set, then stop taking messages, flush, ack and disconnect.

        Raises:
            SettingError: The metrics port is in use (checked before anything else starts).
            KafkaSinkError: Topics cannot be listed or created at start.
            CollectorError: Kafka reported a fatal error, or the pipeline failed.
        """
        c = self.settings.collector
        if c.metrics_port:
            # First: a busy port fails the start at once, and the probes answer (alive, not
            # ready) while Kafka is awaited.
            self.metrics = MetricsServer(
                self.stats,
                host=c.metrics_host,
                port=c.metrics_port,
                heartbeat=self.heartbeat,
                ready=self.not_ready,
            )
        try:
            self._collect(stop)
        finally:
            if self.metrics is not None:
                self.metrics.close()

    def not_ready(self) -> list[str]:
        """Why this replica is not ready (collectors/probes.py); read by the probe server."""
        problems = ["stopping"] if self._stopping else []
        if not self._topics_ready:
            problems.append("kafka: waiting for the broker at start")
        elif (kafka := self.kafka_brokers.problem()) is not None:
            problems.append(kafka)
        if not self.source.connected:
            problems.append("mqtt: not connected")
        elif not self.source.subscribed.is_set():
            problems.append("mqtt: subscription not acknowledged yet")
        return problems

    def _collect(self, stop: threading.Event) -> None:
        s = self.settings
        created = self._ensure_topics(stop)
        if created is None:
            return  # stopped before Kafka came
        self._topics_ready = True
        if created:
            log.info("kafka topics created names=%s partitions=%d", created, s.kafka.partitions)
        c = s.collector
        if isinstance(self.source, MqttSource):
            self.source.start()  # paho's network thread; the MQTT 5 session is driven below
        log.info(
            "collector started client_id=%s subscription=%r events=%s deadletter=%s",
            c.client_id,
            self.source.subscription,
            s.kafka.events_topic,
            s.kafka.deadletter_topic,
        )
        started = last_summary = time.monotonic()
        last_received, noticed = 0, False
        try:
            while not stop.is_set() and not self._stopping:
                self.heartbeat.beat()
                self._turn()
                if self._retry:
                    self._retry_failed()
                if self.sink.fatal_error is not None:
                    raise CollectorError(f"kafka fatal error: {self.sink.fatal_error.str()}")
                now = time.monotonic()
                if not noticed and not self.source.connected and now - started > CONNECT_NOTICE_S:
                    log.warning("mqtt not connected yet url=%s (retrying)", s.mqtt.url)
                    noticed = True
                if c.summary_interval_s and now - last_summary >= c.summary_interval_s:
                    rate = (self.stats.received - last_received) / (now - last_summary)
                    log.info("summary %s", summary_line(self.stats, rate=rate))
                    last_summary, last_received = now, self.stats.received
        finally:
            self._shutdown()
        if self._failure is not None:
            raise CollectorError(f"pipeline failed: {self._failure!r}") from self._failure

    def _ensure_topics(self, stop: threading.Event) -> list[str] | None:
        """Create the topics, waiting for Kafka as long as it takes (a line per attempt);
        None if ``stop`` was set first. Start order does not matter: Kafka may come later."""
        k = self.settings.kafka
        delay = START_RETRY_MIN_S
        while True:
            self.heartbeat.beat()  # waiting for Kafka is the loop turning, not a stuck one
            try:
                return self.sink.ensure_topics(
                    self._topics.values(),
                    partitions=k.partitions,
                    replication_factor=k.replication_factor,
                    config=k.topic_config(),
                )
            except KafkaSinkError as exc:
                log.warning("kafka not ready (%s); retrying in %.0f s", exc, delay)
            if stop.wait(delay):
                return None
            delay = min(delay * 2, START_RETRY_MAX_S)

    def _turn(self) -> None:
        """One turn of the loop: take messages (MQTT 5), serve deliveries, send due acks."""
        source = self.source
        if isinstance(source, Mqtt5Session):
            if len(self._queue) < self._max_in_flight:
                timeout = PUMP_POLL_S if self._queue else IDLE_POLL_S
                for inbound, mid, qos, generation in source.receive(timeout):
                    self._on_message(inbound, mid, qos, generation)
                self.sink.poll(0)
            else:
                # Only with a broker ignoring Receive Maximum: take nothing until acks free room.
                self.sink.poll(PUMP_POLL_S)
            self._ack_delivered()
            source.flush()
        else:
            self.sink.poll(PUMP_POLL_S)
            self._ack_delivered()

    def _shutdown(self) -> None:
        self._stopping = True
        with self._room:
            self._room.notify_all()
        deadline = time.monotonic() + self.settings.collector.shutdown_timeout_s
        while self._queue and time.monotonic() < deadline and self.sink.fatal_error is None:
            self.sink.poll(0.05)
            self._ack_delivered()
            if isinstance(self.source, Mqtt5Session):
                self.source.flush()
            if self._retry:
                self._retry_failed()
        left = len(self._queue)
        self.source.stop()
        log.info(
            "collector stopped %s unacked_left=%d (redelivered by the broker)",
            summary_line(self.stats, rate=0.0),
            left,
        )


def _log_signal(sig: signal.Signals) -> None:
    log.info("signal received signal=%s; stopping", sig.name)


def run_collector(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Run one collector until SIGTERM/SIGINT (or ``stop``), then stop cleanly."""
    stop = stop if stop is not None else threading.Event()
    # Handlers can only be set in the main thread; a collector in another thread (the tests')
    # stops when its caller sets ``stop``.
    in_main = threading.current_thread() is threading.main_thread()
    with stop_on_signals(stop, on_signal=_log_signal) if in_main else nullcontext(stop):
        Collector(settings).run(stop)
