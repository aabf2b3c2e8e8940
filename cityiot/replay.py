"""Dead letters sent through the collector pipeline again, after a registry, adapter or schema fix.

Each selected collector dead letter's MQTT topic, payload and original ``received_at`` go through
the pipeline the collectors run now (``collectors.service.build_pipeline`` of the current
settings: registry, district index, prefix, size limit). What passes becomes the very record a
collector would have produced then (same key, same envelope, ``received_at`` included) and is
sent to ``CITYIOT_KAFKA_EVENTS_TOPIC`` through the collector's own producer (idempotent,
``acks=all``). The pipeline judges it as at its first receipt (a stale device time, say).

One change to that record: a message whose 1-minute window has closed for good by the time of
the replay (``CITYIOT_STREAM_ALLOWED_LATENESS_S`` after its end) gets as ``received_at`` the first
second past that, unless it was received later already. The stream then writes it raw and counts
it late, as any message that late, and leaves the window's roll-up alone: rewritten from a state
that no longer holds the window's other messages, it would lose them (the stream keeps a window
only a while past its lateness). A receive time that old keeps the device's last-seen time, and
so its online state, as it was.

What still fails is only reported, with its new reason and detail: the record stays where it is
(the topic is append-only) and no new dead letter is written, so the dead-letter counts, the
``deadletters`` points and the reconciliation still count each rejected message once, however
often it is replayed.

Not replayed:

* ``streams`` records (``invalid_envelope``, ``influx_rejected``): the worker's own failures, not
  device messages; they hold no MQTT payload to run through a collector, and their fix is in the
  worker or InfluxDB;
* records whose payload was truncated (``payload_truncated``): the message is not all there;
* a record marked ``redelivered`` whose topic and payload repeat an earlier selected record: the
  broker's second delivery of one message (``cityiot/reconcile.py`` counts it once too).

The rate limits (per device, per vendor) are off for a replay: they guard live intake against a
flood, and would refuse a replay's burst of one device's old messages that were rejected for
another reason. A replay sends each message once, however many it selects.

Replaying again sends the same records again; the stream drops them (``streams/dedup.py``: same
device, seq and device time), and raw points are idempotent in InfluxDB anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from confluent_kafka import KafkaError, Message

from cityiot.deadletters import Letter
from collectors.kafka_sink import KafkaSink
from collectors.pipeline import Inbound, Pipeline
from collectors.service import build_pipeline
from core.errors import CityiotError
from core.settings import Settings
from schemas import DeadLetter, Envelope

__all__ = [
    "SEND_TIMEOUT_S",
    "Outcome",
    "ReplayError",
    "Step",
    "replay",
    "replay_pipeline",
    "route_letters",
    "send_events",
]

# How long Kafka may take to acknowledge the replayed events (the collector itself waits
# forever: its MQTT messages stay unacked meanwhile; a command has to end).
SEND_TIMEOUT_S = 60.0
# The stream's windows: [start, start + 60 s) of device time; an event is late when received
# more than the allowed lateness after its window's end (streams.rollups.is_late; not imported:
# importing streams starts Faust's import).
WINDOW_MS = 60_000
# A late receive time is set this far past the lateness: a whole second, so that no rounding
# of the stream's float milliseconds puts it back on the limit.
LATE_MARGIN = timedelta(seconds=1)


class ReplayError(CityiotError):
    """Kafka did not take every replayed event: nothing is lost, the replay can run again."""


class Outcome(StrEnum):
    REPLAYED = "replayed"  # passed the pipeline now: an event for the events topic
    FAILING = "failing"  # still rejected, maybe for another reason: left where it is
    SKIPPED = "skipped"  # not replayed (a streams record, a truncated payload, a repeat)


@dataclass(frozen=True)
class Step:
    """What one selected dead letter became."""

    letter: Letter
    outcome: Outcome
    reason: str | None = None  # FAILING: the reason now; SKIPPED: why not replayed
    detail: str = ""
    key: bytes = b""  # REPLAYED: the event's Kafka key and value
    value: bytes = b""
    late: bool = False  # REPLAYED: its window closed for good; raw points only (module doc)


def replay_pipeline(settings: Settings) -> Pipeline:
    """The collectors' pipeline of ``settings``, without its rate limits (module docstring)."""
    unlimited = settings.collector.model_copy(
        update={"rate_limit_per_s": 0.0, "vendor_rate_limit_per_s": 0.0, "vendor_rate_limits": {}}
    )
    return build_pipeline(settings.model_copy(update={"collector": unlimited}))


def route_letters(
    letters: Iterable[Letter], pipeline: Pipeline, *, now: datetime, lateness_s: int
) -> list[Step]:
    """Each letter through ``pipeline`` (pure: no I/O, the receive time is the record's), as
    replayed at ``now`` to a stream allowing ``lateness_s`` (module docstring)."""
    steps: list[Step] = []
    seen: set[tuple[str, str]] = set()
    for letter in letters:
        record = letter.record
        skipped = _not_replayable(record)
        if skipped is not None or record is None or record.topic is None:
            why, detail = skipped or ("unreadable", "no topic")
            steps.append(Step(letter, Outcome.SKIPPED, why, detail))
            continue
        identity = (record.topic, record.payload_b64 or "")
        if record.redelivered and identity in seen:
            steps.append(
                Step(letter, Outcome.SKIPPED, "repeat", "the broker's redelivery of an earlier one")
            )
            continue
        seen.add(identity)
        routed = pipeline.route(
            Inbound(
                topic=record.topic,
                payload=record.payload or b"",
                received_at=record.received_at,
                monotonic=0.0,  # drives the rate limits only, and a replay has none
            )
        )
        if routed.kind == "event":
            value, late = _late_if_closed(routed.value, now=now, lateness_s=lateness_s)
            steps.append(Step(letter, Outcome.REPLAYED, key=routed.key, value=value, late=late))
        else:
            rejected = DeadLetter.model_validate_json(routed.value)
            steps.append(Step(letter, Outcome.FAILING, rejected.reason.value, rejected.detail))
    return steps


def _late_if_closed(value: bytes, *, now: datetime, lateness_s: int) -> tuple[bytes, bool]:
    """The event, received late if its window has closed for good by ``now``; and whether."""
    envelope = Envelope.model_validate_json(value)
    window_end_ms = envelope.ts_ms - envelope.ts_ms % WINDOW_MS + WINDOW_MS
    closes = datetime.fromtimestamp(window_end_ms / 1000, UTC) + timedelta(seconds=lateness_s)
    if now <= closes + LATE_MARGIN or envelope.received_at > closes:
        return value, envelope.received_at > closes
    late = envelope.model_copy(update={"received_at": closes + LATE_MARGIN})
    return late.model_dump_json().encode(), True


def _not_replayable(record: DeadLetter | None) -> tuple[str, str] | None:
    """(why, detail) when ``record`` is no device message that can run through a collector."""
    if record is None:
        return ("unreadable", "not a dead-letter record")
    if record.source != "collector":
        return ("streams", "a streams worker's own failure, not a device message")
    if record.payload_truncated:
        return ("truncated", f"only part of its {record.payload_size} bytes was kept")
    return None


def send_events(settings: Settings, steps: Iterable[Step], *, timeout_s: float) -> int:
    """Produce the REPLAYED steps' events as a collector does; returns how many Kafka took.

    Raises:
        KafkaSinkError: The events topic cannot be listed or created.
        ReplayError: Kafka refused some, or did not acknowledge them within ``timeout_s``.
    """
    events = [s for s in steps if s.outcome is Outcome.REPLAYED]
    if not events:
        return 0
    k, c = settings.kafka, settings.collector
    sink = KafkaSink(
        bootstrap_servers=k.bootstrap_servers,
        security=k.librdkafka_security(),
        client_id=f"{c.client_id}-replay",
        linger_ms=c.linger_ms,
        idempotent=c.idempotent_producer,
        extra={"message.timeout.ms": int(timeout_s * 1000)},
    )
    sink.ensure_topics(
        [k.events_topic],
        partitions=k.partitions,
        replication_factor=k.replication_factor,
        config=k.topic_config(),
    )
    delivered = 0
    errors: list[str] = []

    def on_delivery(error: KafkaError | None, _msg: Message) -> None:
        nonlocal delivered
        if error is None:
            delivered += 1
        else:
            errors.append(error.str())

    for step in events:
        sink.produce(k.events_topic, step.key, step.value, on_delivery)
        sink.poll(0)
    left = sink.flush(timeout_s)
    if errors or left:
        first = f" (first error: {errors[0]})" if errors else ""
        raise ReplayError(
            f"kafka took {delivered} of {len(events)} replayed events{first}; nothing is lost: "
            "run the replay again once Kafka is healthy (the stream drops what it already has)"
        )
    return delivered


def replay(
    settings: Settings, letters: Iterable[Letter], *, dry_run: bool = False
) -> tuple[list[Step], int]:
    """Route ``letters`` through the current pipeline and, unless ``dry_run``, send what now
    passes to the events topic; returns the steps and how many events Kafka took."""
    steps = route_letters(
        letters,
        replay_pipeline(settings),
        now=datetime.now(UTC),
        lateness_s=settings.stream.allowed_lateness_s,
    )
    sent = 0 if dry_run else send_events(settings, steps, timeout_s=SEND_TIMEOUT_S)
    return steps, sent
