"""The dead-letter topic read back: every record, chosen by reason, vendor and time, counted.

:func:`read_deadletters` reads ``CITYIOT_KAFKA_DEADLETTER_TOPIC`` from the start of every
partition to the end it had when the read began (its high watermarks: no waiting for a quiet
topic), with ``assign()``, so no consumer group is joined and no offset is committed: reading
changes nothing, and two operators may read at once. :class:`Selection` and :func:`summarise`
are pure. ``cityiot deadletter list`` prints what these return; ``cityiot deadletter replay``
(:mod:`cityiot.replay`) sends the selected collector records through the collector pipeline again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from pydantic import ValidationError

from cityiot.reconcile import RECONCILE_GROUP_PREFIX
from core.errors import CityiotError
from core.settings import KafkaSettings
from dashboards.queries import parse_duration
from schemas import DeadLetter

__all__ = [
    "READ_TIMEOUT_S",
    "UNREADABLE",
    "DeadLetterReadError",
    "Letter",
    "Selection",
    "parse_time",
    "read_deadletters",
    "summarise",
]

# The whole read, metadata included: long enough for a topic of a few million records on a busy
# broker, short enough that an unreachable broker fails the command in minutes, not never.
READ_TIMEOUT_S = 300.0
# Metadata and watermark calls: a cold broker answers in well under this.
METADATA_TIMEOUT_S = 10.0
# How long one poll waits; bounds how late the end of the read is noticed.
POLL_S = 0.5
# Pause before asking again after a passing broker error (a partition without a leader yet).
RETRY_S = 0.5
# Broker answers that pass within seconds: a topic just created has no leader for a moment
# (librdkafka does not flag these retriable when asking for watermarks).
PASSING_ERRORS = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    }
)
# Shown as the reason of a record that is not a dead letter (not JSON, or not the model's).
UNREADABLE = "unreadable_record"


class DeadLetterReadError(CityiotError):
    """The dead-letter topic could not be read to its end (broker unreachable, read too slow)."""


@dataclass(frozen=True)
class Letter:
    """One record of the dead-letter topic, where it is, and what it says (None: unreadable)."""

    partition: int
    offset: int
    raw: bytes
    record: DeadLetter | None

    @property
    def where(self) -> str:
        """``partition@offset``: the record's address, unique on the topic."""
        return f"{self.partition}@{self.offset}"

    @property
    def reason(self) -> str:
        return self.record.reason.value if self.record is not None else UNREADABLE

    @property
    def source(self) -> str:
        return self.record.source if self.record is not None else "unknown"

    def vendor(self, prefix: str) -> str | None:
        """The vendor level of a collector record's MQTT topic (``{prefix}/{facility}/{vendor}/
        ...``); None for a streams record or a topic that is not under ``prefix``."""
        record = self.record
        if record is None or record.source != "collector" or record.topic is None:
            return None
        levels = record.topic.split("/")
        if len(levels) < 3 or levels[0] != prefix or not levels[2]:
            return None
        return levels[2]


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command works on: each filter left empty lets every record pass."""

    reasons: frozenset[str] = frozenset()
    vendors: frozenset[str] = frozenset()
    since: datetime | None = None  # received_at >= since
    until: datetime | None = None  # received_at < until
    prefix: str = "city"  # the MQTT topic prefix, to find a topic's vendor level

    def matches(self, letter: Letter) -> bool:
        record = letter.record
        if record is None:
            # An unreadable record has no reason, vendor or time to match: shown unfiltered only.
            return not (self.reasons or self.vendors or self.since or self.until)
        if self.reasons and record.reason.value not in self.reasons:
            return False
        if self.vendors and letter.vendor(self.prefix) not in self.vendors:
            return False
        if self.since is not None and record.received_at < self.since:
            return False
        return self.until is None or record.received_at < self.until

    def select(self, letters: Iterable[Letter]) -> list[Letter]:
        return [letter for letter in letters if self.matches(letter)]


@dataclass(frozen=True)
class Summary:
    """Dead letters per (reason, vendor); vendor ``-`` where there is none (streams, bad topic)."""

    counts: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def summarise(letters: Iterable[Letter], *, prefix: str) -> Summary:
    counts: Counter[tuple[str, str]] = Counter(
        (letter.reason, letter.vendor(prefix) or "-") for letter in letters
    )
    return Summary(dict(sorted(counts.items())))


def parse_time(text: str, *, now: datetime) -> datetime:
    """An ISO-8601 time (``2026-05-01T08:00:00+08:00``; no offset means UTC) or a span back
    from ``now`` (``30m``, ``2h``, ``1d``, ``1w``: dashboards' own duration form).

    Raises:
        ValueError: Neither form.
    """
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO-8601 time or a duration: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_deadletters(kafka: KafkaSettings, *, timeout_s: float = READ_TIMEOUT_S) -> list[Letter]:
    """Every record of the dead-letter topic, partition by partition in offset order, up to the
    end each partition had when the read began. A topic that does not exist yet holds none.

    Raises:
        DeadLetterReadError: The broker did not answer, or the read took over ``timeout_s``.
    """
    topic = kafka.deadletter_topic
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            **kafka.librdkafka_security(),
            # Never joined (assign(), below), but looked up: the tools user's ACL grants the
            # reconciliation's prefix, and this is the same kind of reader.
            "group.id": f"{RECONCILE_GROUP_PREFIX}deadletter-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 0,
        }
    )
    deadline = time.monotonic() + timeout_s
    try:
        asking_until = time.monotonic() + METADATA_TIMEOUT_S
        while True:
            try:
                ends = _ends(consumer, topic)
                break
            except KafkaException as exc:
                error = exc.args[0]
                passing = error.retriable() or error.code() in PASSING_ERRORS
                if not passing or time.monotonic() > asking_until:
                    raise
                time.sleep(RETRY_S)
        return _read(consumer, topic, ends, deadline=deadline)
    except KafkaException as exc:
        raise DeadLetterReadError(
            f"kafka: cannot read {topic!r} at {kafka.bootstrap_servers}: {exc}; "
            "fix: check CITYIOT_KAFKA_BOOTSTRAP_SERVERS and that the broker runs"
        ) from None
    finally:
        consumer.close()


def _ends(consumer: Consumer, topic: str) -> dict[int, tuple[int, int]]:
    """partition → (first offset, end offset) of each partition holding records."""
    metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        return {}
    ends = {}
    for partition in found.partitions:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=METADATA_TIMEOUT_S
        )
        if high > low:
            ends[partition] = (low, high)
    return ends


def _read(
    consumer: Consumer, topic: str, ends: dict[int, tuple[int, int]], *, deadline: float
) -> list[Letter]:
    if not ends:
        return []
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    by_partition: dict[int, list[Letter]] = {p: [] for p in ends}
    open_partitions = set(ends)
    while open_partitions:
        if time.monotonic() > deadline:
            read = sum(len(v) for v in by_partition.values())
            expected = sum(high - low for low, high in ends.values())
            raise DeadLetterReadError(
                f"kafka: read {read} of about {expected} records of {topic!r} before the "
                "timeout; fix: check the broker's health, then run the command again"
            )
        for msg in consumer.consume(10_000, POLL_S):
            partition, offset = msg.partition(), msg.offset()
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    open_partitions.discard(partition)
                    continue
                raise KafkaException(error)
            if partition not in open_partitions or offset is None:
                continue  # written after the read began: the next read shows it
            if offset >= ends[partition][1]:
                open_partitions.discard(partition)
                continue
            by_partition[partition].append(_letter(partition, offset, msg.value() or b""))
            if offset + 1 >= ends[partition][1]:
                open_partitions.discard(partition)
    return [letter for p in sorted(by_partition) for letter in by_partition[p]]


def _letter(partition: int, offset: int, raw: bytes) -> Letter:
    try:
        record: DeadLetter | None = DeadLetter.model_validate_json(raw)
    except ValidationError:
        record = None
    return Letter(partition, offset, raw, record)
