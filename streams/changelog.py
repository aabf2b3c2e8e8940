"""Writing device-state records to the state table's changelog through librdkafka.

At city scale every message makes its device's record dirty, so a worker writes about as many
changelog records as it reads events (3,600/s in Ningbo). Faust's own path for a table write
(``send_changelog``: a Faust future per record, then aiokafka's pure-Python batching and sends)
took ~14 % of a worker's CPU there (py-spy, bench/city.py); librdkafka takes the same records in
~1-2 µs each from Python and batches, compresses (lz4: the records are JSON) and sends them on
its own threads. The topic, its partitions and its recovery stay Faust's: only the writes go
around it, to the same topic and partition Faust would use (the table's partition is the events
partition), and the worker reads them back at assignment as it did (streams/app.py,
``_ensure_loaded``).

A batch is acked only after :meth:`ChangelogWriter.flush` returned: every record of it is in
Kafka (``acks=all``; idempotent, so a retry never writes a record twice or out of order). A
record librdkafka gave up on is produced again by the next flush, before any later batch's
records, so a key's records stay in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

__all__ = ["ChangelogWriter"]

log = logging.getLogger(__name__)

# A flush that has not finished after this long logs a line and goes on waiting: Kafka is away.
FLUSH_WAIT_S = 10.0


class ChangelogWriter:
    """Produce ``(partition, key, value)`` records to one topic; :meth:`flush` until all are in."""

    def __init__(self, client_config: Mapping[str, str], *, topic: str, idempotent: bool) -> None:
        """``client_config``: ``bootstrap.servers`` and the security properties of the worker's
        user (the one Faust's clients use, allowed to write the changelog)."""
        self.topic = topic
        self._failed: list[tuple[int, bytes, bytes]] = []
        self._producer = Producer(
            {
                **client_config,
                "acks": "all",
                "enable.idempotence": idempotent,
                # Without idempotence one request in flight keeps a retried record in order.
                **({} if idempotent else {"max.in.flight.requests.per.connection": 1}),
                "linger.ms": 5,
                "compression.type": "lz4",
                # Records that cannot be delivered come back to on_delivery after this long and
                # are produced again (flush): the worker holds its batch meanwhile.
                "message.timeout.ms": 60_000,
                "logger": logging.getLogger("streams.librdkafka"),
            }
        )

    def produce(self, partition: int, key: bytes, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(
                    self.topic,
                    value,
                    key,
                    partition=partition,
                    on_delivery=self._on_delivery(partition, key, value),
                )
                return
            except BufferError:
                # librdkafka's queue is full (a huge batch): let it send some first.
                self._producer.poll(0.1)

    def _on_delivery(self, partition: int, key: bytes, value: bytes) -> Any:
        def done(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                self._failed.append((partition, key, value))

        return done

    async def flush(self) -> None:
        """Wait until every record produced so far is in Kafka, producing failed ones again."""
        while True:
            remaining = await asyncio.to_thread(self._producer.flush, FLUSH_WAIT_S)
            if remaining:
                log.warning(
                    "changelog not written yet topic=%s records=%d (is Kafka away?)",
                    self.topic,
                    remaining,
                )
                continue
            if not self._failed:
                return
            failed, self._failed = self._failed, []
            log.warning(
                "changelog records failed topic=%s records=%d: again", self.topic, len(failed)
            )
            for partition, key, value in failed:
                self.produce(partition, key, value)

    def close(self) -> None:
        self._producer.flush(FLUSH_WAIT_S)
