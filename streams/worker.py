"""Running one streams worker: topics, the Faust worker, metrics and probes, logging."""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from prometheus_client import REGISTRY

from core.influx import InfluxTarget
from core.probes import Heartbeat, ProbeServer
from core.settings import Settings
from core.settings.env import env_name
from streams.app import create_app
from streams.faust_private import DeadlineWorker
from streams.probes import StreamProbes

__all__ = ["ensure_topics", "run_stream"]

log = logging.getLogger(__name__)
# Creating a topic is a metadata round trip; a cold broker in CI answers within seconds.
ADMIN_TIMEOUT_S = 30.0
# Listing topics is the first request at start: short, so a missing Kafka is said promptly.
LIST_TIMEOUT_S = 5.0
# Waiting for Kafka at start: the first retry after 1 s, doubling to 30 s.
START_RETRY_MIN_S = 1.0
START_RETRY_MAX_S = 30.0
# Every address, as before /healthz and /readyz joined the metrics: the kubelet probes the
# pod's address, Prometheus scrapes it.
METRICS_HOST = "0.0.0.0"  # noqa: S104


def ensure_topics(settings: Settings) -> None:
    """Create the events, dead-letter and alerts topics if missing (collectors create the first
    two too)."""
    admin = AdminClient(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            **settings.kafka.librdkafka_security(),
        }
    )
    existing = set(admin.list_topics(timeout=LIST_TIMEOUT_S).topics)
    k = settings.kafka
    wanted = [k.events_topic, k.deadletter_topic, k.alerts_topic]
    new = [
        NewTopic(t, k.partitions, k.replication_factor, config=k.topic_config())
        for t in wanted
        if t not in existing
    ]
    if not new:
        return
    for name, future in admin.create_topics(new, operation_timeout=ADMIN_TIMEOUT_S).items():
        try:
            future.result(ADMIN_TIMEOUT_S)
        except Exception as exc:  # a concurrent creator won the race: fine
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
            log.debug("topic exists topic=%r", name)


def run_stream(settings: Settings, *, loglevel: str = "WARN") -> None:
    """Run a streams worker until SIGINT/SIGTERM (then it commits what is acked and stops).

    ``loglevel`` is Faust's (its own lines are noisy below WARN); the worker's own lines (start,
    partitions, the periodic summary) are INFO whatever Faust's level, as the collector's are.
    """
    _own_log_lines()
    probes = StreamProbes(settings)
    if settings.stream.metrics_port:
        # First: a busy port fails the start at once, and the probes answer (alive, not ready)
        # while Kafka is awaited. Daemon threads: they end with the process.
        ProbeServer(
            host=METRICS_HOST,
            port=settings.stream.metrics_port,
            registry=REGISTRY,
            heartbeat=probes.heartbeat,
            ready=probes.not_ready,
            port_variable=env_name("metrics_port", "stream"),
        )
    _wait_for_kafka(settings, probes.heartbeat)
    app = create_app(settings)
    s = settings.stream
    log.info(
        "stream starting app_id=%s group=%s events=%s deadletter=%s kafka=%s influxdb=%s "
        "database=%s api=%s fetch_min_bytes=%d fetch_max_wait_ms=%d",
        s.app_id,
        s.app_id,
        settings.kafka.events_topic,
        settings.kafka.deadletter_topic,
        settings.kafka.bootstrap_servers,
        InfluxTarget.from_settings(settings.influxdb).redact(settings.influxdb.url),
        settings.influxdb.database,
        s.influx_api,
        s.fetch_min_bytes,
        s.fetch_max_wait_ms,
    )
    worker = DeadlineWorker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.stop_deadline_s = s.stop_timeout_s
    probes.watch(app, worker.loop)
    worker.execute_from_commandline()


def _wait_for_kafka(settings: Settings, heartbeat: Heartbeat) -> None:
    """Create the topics, waiting for Kafka as long as it takes (a line per attempt): start
    order does not matter. SIGTERM meanwhile ends the process (nothing is in flight yet).
    Each attempt beats ``heartbeat``: waiting is the worker alive, not stuck."""
    delay = START_RETRY_MIN_S
    while True:
        heartbeat.beat()
        try:
            ensure_topics(settings)
            return
        except KafkaException as exc:
            log.warning(
                "kafka not ready at %s (%s); retrying in %.0f s",
                settings.kafka.bootstrap_servers,
                exc.args[0].str() if exc.args else exc,
                delay,
            )
        time.sleep(delay)
        delay = min(delay * 2, START_RETRY_MAX_S)


def _own_log_lines() -> None:
    """The worker's own lines at INFO on stderr, apart from Faust's (whose INFO is chatty and
    whose level ``--loglevel`` sets): the same format as Faust's lines."""
    logger = logging.getLogger("streams")
    if any(getattr(h, "_cityiot", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    )
    handler._cityiot = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    # Faust's services log their start and stop under the module of their class: ours live in
    # streams/faust_private.py, and stay at Faust's level.
    logging.getLogger("streams.faust_private").setLevel(logging.WARNING)
