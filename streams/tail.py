"""Re-reading the end of a changelog partition past its reported high watermark.

Faust's recovery reads a changelog "to the end" as reported by the high watermark. Tansu's
watermark can trail the real end by a few records (FACTS.md: 1,078 reported, 1,080 readable), and
a state record missed there would make a restarted worker drop events as new that it had already
counted, or count twice. So when a worker takes a partition it re-reads the last ``TAIL_RECORDS``
of the changelog and everything after them until the partition stays quiet, and applies them in
offset order over what Faust recovered: records older than Faust's end are rewritten with the same
values, newer ones fill the gap. On Apache Kafka this finds nothing new and costs one short read.

The read goes on until the consumer's position reaches the high watermark, whatever the pauses:
right after a leader change the client needs seconds to find the new leader, and a read that
stopped at its first quiet second returned nothing, so a worker rebuilt the partition from a stale
table (a broker failover test caught it). Only past the watermark does a quiet second end it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

__all__ = ["TAIL_RECORDS", "read_tail", "tail_group"]

# Well above the few hundred records Tansu's watermark was seen to trail by.
TAIL_RECORDS = 2000
# No record for this long after the watermark: the partition's end.
QUIET_S = 1.0
# Not at the watermark after this long: an error, which the caller retries (with a log line).
READ_TIMEOUT_S = 60.0


def tail_group(app_id: str) -> str:
    """The consumer group id of the tail reader: required by librdkafka, never joined (assign()
    joins no group) but looked up, so a broker with ACLs lets the worker's user read it."""
    return f"{app_id}-tail"


def read_tail(
    client_config: Mapping[str, str], app_id: str, topic: str, partition: int
) -> list[tuple[bytes, bytes | None]]:
    """``(key, value)`` of the partition's last records, in offset order (value None: deleted).

    ``client_config``: ``bootstrap.servers`` and the security properties of the worker's user.
    """
    consumer = Consumer(
        {
            **client_config,
            "group.id": tail_group(app_id),
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        start = max(low, high - TAIL_RECORDS)
        consumer.assign([TopicPartition(topic, partition, start)])
        out: list[tuple[bytes, bytes | None]] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while True:
            batch = consumer.consume(num_messages=10_000, timeout=QUIET_S)
            for message in batch:
                key = message.key()
                if message.error() is None and key is not None:
                    out.append((key, message.value()))
            if batch:
                continue
            # The position, not the last offset read: it steps over transaction markers too.
            (position,) = consumer.position([TopicPartition(topic, partition)])
            if position.offset >= high or high == start:
                return out
            if time.monotonic() > deadline:
                raise KafkaException(
                    KafkaError(
                        KafkaError._TIMED_OUT,
                        f"changelog {topic}[{partition}] read to {position.offset} of {high}",
                    )
                )
    finally:
        consumer.close()
