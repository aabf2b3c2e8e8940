"""The Kafka edge: an idempotent confluent-kafka producer and topic creation.

confluent-kafka, not aiokafka, by measurement (FACTS.md, bench/collector.py): librdkafka produces
~330,000 records/s to the local broker against aiokafka's ~50,000, its idempotent producer works
against Tansu where aiokafka's fails, and its I/O threads run outside the GIL that the MQTT
thread needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from core.errors import CityiotError

__all__ = ["DeliveryCallback", "KafkaSink", "KafkaSinkError"]

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[KafkaError | None, Message], None]

# Topic creation and metadata calls: long enough for a cold broker, short enough to fail a start.
ADMIN_TIMEOUT_S = 15.0
# Listing topics is the first thing a start asks: short, so a stop while Kafka is away is prompt
# (the caller retries).
LIST_TIMEOUT_S = 5.0


class KafkaSinkError(CityiotError):
    """Kafka refused something the collector cannot work around (topic creation, fatal error)."""


class KafkaSink:
    """Produce records; delivery callbacks fire inside :meth:`poll` / :meth:`flush`."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        client_id: str,
        linger_ms: int,
        idempotent: bool,
        security: Mapping[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """``security``: librdkafka's security properties (``KafkaSettings.librdkafka_security()``),
        for the producer and the topic admin alike."""
        self.fatal_error: KafkaError | None = None
        # The bootstrap servers and the collector's user: every client this sink makes uses both.
        self._client = {"bootstrap.servers": bootstrap_servers, **(security or {})}
        config: dict[str, Any] = {
            **self._client,
            "client.id": client_id,
            "acks": "all",
            "enable.idempotence": idempotent,
            "linger.ms": linger_ms,
            # 0 = retry forever. A record Kafka did not take stays in flight (and its MQTT
            # message unacked) until Kafka is back: the in-flight bound then stops intake.
            "message.timeout.ms": 0,
            "compression.type": "lz4",
            "error_cb": self._on_error,
            # librdkafka's own log lines go through Python logging, not stderr.
            "logger": logging.getLogger("collectors.librdkafka"),
        }
        config.update(extra or {})
        self._producer = Producer(config)
        self._bootstrap = bootstrap_servers

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            # Idempotence guarantees broken (e.g. fencing): the service stops; nothing unacked
            # is lost, the broker redelivers it to the next start.
            self.fatal_error = error
            log.error("kafka fatal error=%r", error.str())
        elif error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            log.warning("kafka unreachable error=%r (records wait in flight)", error.str())
        elif error.code() == KafkaError._AUTHENTICATION:
            # librdkafka retries; records wait in flight until an operator fixes the user.
            log.warning(
                "kafka refused the collector's user error=%r (check CITYIOT_KAFKA_USERNAME and "
                "CITYIOT_KAFKA_PASSWORD)",
                error.str(),
            )
        else:
            log.info("kafka error=%r", error.str())

    def ensure_topics(
        self,
        names: Iterable[str],
        *,
        partitions: int,
        replication_factor: int = 1,
        config: dict[str, str] | None = None,
    ) -> list[str]:
        """Create the topics that do not exist yet; returns the names created.

        Raises:
            KafkaSinkError: The broker is unreachable or refused to create one.
        """
        admin = AdminClient(dict(self._client))
        try:
            existing = set(admin.list_topics(timeout=LIST_TIMEOUT_S).topics)
        except KafkaException as exc:
            raise KafkaSinkError(
                f"kafka: cannot list topics at {self._bootstrap}: {exc}; "
                "fix: check CITYIOT_KAFKA_BOOTSTRAP_SERVERS and that the broker runs"
            ) from None
        missing = [n for n in names if n not in existing]
        if not missing:
            return []
        futures = admin.create_topics(
            [
                NewTopic(
                    n,
                    num_partitions=partitions,
                    replication_factor=replication_factor,
                    config=config or {},
                )
                for n in missing
            ],
            operation_timeout=ADMIN_TIMEOUT_S,
            request_timeout=ADMIN_TIMEOUT_S,
        )
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue  # another replica won the race
                raise KafkaSinkError(f"kafka: cannot create topic {name!r}: {exc}") from None
        return missing

    def produce(self, topic: str, key: bytes, value: bytes, on_delivery: DeliveryCallback) -> None:
        """Queue one record; ``on_delivery`` runs once Kafka acknowledged or refused it."""
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=on_delivery)
                return
            except BufferError:
                # librdkafka's local queue is full (only if max_in_flight exceeds it): wait for
                # deliveries instead of dropping.
                self._producer.poll(0.1)

    def poll(self, timeout: float) -> int:
        """Serve delivery callbacks for up to ``timeout`` seconds; returns how many ran."""
        return int(self._producer.poll(timeout))

    def flush(self, timeout: float) -> int:
        """Wait for every queued record; returns how many are still undelivered."""
        return int(self._producer.flush(timeout))

    def __len__(self) -> int:
        return len(self._producer)
