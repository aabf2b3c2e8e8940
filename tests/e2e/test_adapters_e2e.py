"""Every shipped example adapter's golden samples through the real chain (paho → Mosquitto →
collector with ``CITYIOT_COLLECTOR_ADAPTERS_DIR=adapters/examples`` → Kafka → streams →
InfluxDB): the raw points hold exactly the totals of the golden envelopes, each accepted
message's envelope on the events topic records its adapter (``source_format``, which InfluxDB
does not keep), and each sample that must be refused is dead-lettered with its reason and native
field and counted in ``deadletters``.

The samples are the ones ``cityiot adapters test`` checks (``adapters/examples/samples/<adapter>``),
with one change: the platform refuses a device time more than 7 days old (``stale_timestamp``),
so the field each rule reads ``ts`` from (epoch seconds in both examples) moves by one whole number
of seconds, the same for every sample, to just before now; the expected envelopes' ``ts`` move
with it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion
from tests_support import eventually

from adapters import Adapter, AdapterSet, load_adapter
from adapters.conformance import EXPECTED_SUFFIX
from cityiot.deadletters import read_deadletters
from cityiot.local.platform import Platform
from core.influx import InfluxQueryError
from core.settings import KafkaSettings, Settings
from schemas import DeviceRecord, Envelope, Registry

EXAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "examples"
# The samples' topics start with the default prefix; the test publishes under its own.
GOLDEN_PREFIX = "city"
# Conversions of the ``ts`` rules whose native value is epoch seconds: what the shift adds to.
EPOCH_SECONDS = ("epoch_s_to_ms", "epoch_s_to_rfc3339")
# The newest golden device time lands this long before now: inside the 5 minutes the platform
# allows ahead of its clock whatever the publish takes, and inside streams' 10-minute lateness.
LEAD = timedelta(minutes=1)
# paho's own deadline for a PUBACK; Mosquitto answers in milliseconds.
PUBACK_S = 30.0
KAFKA_TIMEOUT_S = 10.0
# Fixed devices need a place in the registry; the district is not what this test is about.
PLACE = {"district_adcode": "330203", "lat": 29.8683, "lon": 121.5440}


@dataclass(frozen=True)
class Sample:
    """One golden sample, its device time moved: where it is published, the native bytes, and
    the envelope it must become or the rejection it must get."""

    name: str
    adapter: Adapter
    topic: str  # below the prefix: vending/acme/VM-330203-0101/data
    payload: bytes
    envelope: Envelope | None
    rejected: dict[str, str] | None


def _ts_path(adapters: AdapterSet, topic: str) -> list[str]:
    """The native path the matching rule reads ``ts`` from, checked to be epoch seconds."""
    match = adapters.match(topic)
    assert match is not None, topic
    (rule,) = (f for f in match.rule.fields if f.name == "ts")
    assert rule.convert_name in EPOCH_SECONDS, (topic, rule.convert_name)
    assert rule.where is not None
    assert "[" not in rule.where, rule.where
    return rule.where.split(".")


def _shifted(payload: bytes, path: list[str], seconds: int) -> bytes:
    """The native payload with ``seconds`` added to the number at ``path``."""
    native = json.loads(payload)
    inner = native
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] += seconds
    return json.dumps(native).encode()


def _golden() -> list[tuple[Adapter, Path, dict[str, Any]]]:
    """(adapter, native payload file, expected) of every sample of every example adapter."""
    out = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        adapter = load_adapter(path)
        samples = EXAMPLES / "samples" / adapter.name
        payloads = sorted(p for p in samples.glob("*.json") if not p.name.endswith(EXPECTED_SUFFIX))
        assert payloads, f"{adapter.name}: no samples in {samples}"
        for payload in payloads:
            expected_path = payload.with_name(payload.stem + EXPECTED_SUFFIX)
            out.append((adapter, payload, json.loads(expected_path.read_text(encoding="utf-8"))))
    return out


def _envelope(expected: Any) -> Envelope:
    """An expected envelope as ``cityiot adapters test`` reads it (JSON, pydantic's own rules)."""
    return Envelope.model_validate_json(json.dumps(expected))


def _samples(now: datetime) -> list[Sample]:
    """Every golden sample with its device time moved so the newest lands ``LEAD`` before now."""
    golden = _golden()
    adapters = AdapterSet({adapter.name: adapter for adapter, _, _ in golden}.values())
    newest = max(_envelope(e["envelope"]).ts for _, _, e in golden if "envelope" in e)
    seconds = int((now - LEAD - newest).total_seconds())
    out = []
    for adapter, path, expected in golden:
        topic = expected["topic"]
        assert topic.startswith(f"{GOLDEN_PREFIX}/"), topic
        envelope = None
        if "envelope" in expected:
            golden_envelope = _envelope(expected["envelope"])
            envelope = golden_envelope.model_copy(
                update={"ts": golden_envelope.ts + timedelta(seconds=seconds)}
            )
        out.append(
            Sample(
                name=f"{adapter.name}/{path.stem}",
                adapter=adapter,
                topic=topic.removeprefix(f"{GOLDEN_PREFIX}/"),
                payload=_shifted(path.read_bytes(), _ts_path(adapters, topic), seconds),
                envelope=envelope,
                rejected=expected.get("rejected"),
            )
        )
    return out


def _registry(samples: list[Sample]) -> Registry:
    """Every device of the samples, registered to its topic's vendor and facility."""
    devices = {}
    for sample in samples:
        facility, vendor, device = sample.topic.split("/")[:3]
        devices[device] = DeviceRecord.model_validate(
            {"device_id": device, "facility": facility, "vendor": vendor, **PLACE,
             "expected_interval_s": 300}
        )  # fmt: skip
    return Registry(list(devices.values()))


# Per raw measurement, the fields to total and how the golden bodies give each (streams' field
# names: streams/measurements.py). A kind missing here fails the test: add its totals.
TOTALS: dict[str, dict[str, Callable[[list[dict[str, Any]]], float]]] = {
    "vending_sale": {
        "amount_fen": lambda bodies: sum(b["amount_fen"] for b in bodies),
        "quantity": lambda bodies: sum(b["quantity"] for b in bodies),
    },
    "vending_telemetry": {
        "temperature_c": lambda bodies: sum(b["temperature_c"] for b in bodies),
        "stock_pct": lambda bodies: sum(b["stock_pct"] for b in bodies),
    },
    "recycling_dropoff": {
        "weight_g": lambda bodies: sum(round(b["weight_kg"] * 1000) for b in bodies),
        "points": lambda bodies: sum(b["points_awarded"] for b in bodies),
        "payout_fen": lambda bodies: sum(b["payout_fen"] or 0 for b in bodies),
    },
    "recycling_telemetry": {
        "temperature_c": lambda bodies: sum(b["temperature_c"] for b in bodies),
        "fill_max_pct": lambda bodies: sum(
            max(level["filling_level_pct"] for level in b["bins"]) for b in bodies
        ),
    },
}


def _expected_totals(samples: list[Sample]) -> dict[tuple[str, str], dict[str, float]]:
    """(measurement, vendor) → {"count": raw points, field: total} from the golden envelopes."""
    bodies: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for sample in samples:
        if sample.envelope is not None:
            body = sample.envelope.body.model_dump(mode="json")
            bodies.setdefault((body["kind"], sample.envelope.vendor), []).append(body)
    return {
        (kind, vendor): {"count": len(group)}
        | {field: total(group) for field, total in TOTALS[kind].items()}
        for (kind, vendor), group in bodies.items()
    }


def _stored_totals(platform: Platform, kinds: set[str]) -> dict[tuple[str, str], dict[str, float]]:
    """The same totals read back from InfluxDB, per measurement and ``vendor`` tag."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for kind in kinds:
        fields = list(TOTALS[kind])
        select = ", ".join(['count("seq") AS "count"', *(f'sum("{f}") AS "{f}"' for f in fields)])
        query = f'SELECT {select} FROM "{kind}" GROUP BY "vendor"'  # noqa: S608
        for series in platform.influx().query(query):
            columns, values = series["columns"][1:], series["values"][0][1:]
            out[(kind, series["tags"]["vendor"])] = dict(zip(columns, values, strict=True))
    return out


def _stored_deadletters(platform: Platform) -> Counter[tuple[str, str]]:
    query = 'SELECT sum("count") FROM "deadletters" GROUP BY "vendor", "reason"'
    return Counter(
        {
            (s["tags"]["vendor"], s["tags"]["reason"]): s["values"][0][1]
            for s in platform.influx().query(query)
        }
    )


def _publish(platform: Platform, samples: list[Sample]) -> None:
    """Each sample at QoS 1 on its topic under the test's prefix, acknowledged before the next."""
    m = platform.settings.mqtt
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(m.host, m.port)
    client.loop_start()
    try:
        for sample in samples:
            info = client.publish(f"{m.topic_prefix}/{sample.topic}", sample.payload, 1)
            info.wait_for_publish(PUBACK_S)
            assert info.is_published(), sample.name
    finally:
        client.disconnect()
        client.loop_stop()


def _events(kafka: KafkaSettings) -> list[Envelope]:
    """Every record of the events topic up to its current end, without joining a group."""
    topic = kafka.events_topic
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": f"e2e-adapters-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            **kafka.librdkafka_security(),
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=KAFKA_TIMEOUT_S).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=KAFKA_TIMEOUT_S)[1]
            for p in partitions
        }
        left = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in left])
        envelopes = []
        deadline = time.monotonic() + KAFKA_TIMEOUT_S
        while left and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            envelopes.append(Envelope.model_validate_json(msg.value() or b""))
            partition, offset = msg.partition(), msg.offset()
            if partition is not None and offset is not None and offset + 1 >= ends[partition]:
                left.discard(partition)
        assert not left, f"events topic not read to its end in {KAFKA_TIMEOUT_S} s"
        return envelopes
    finally:
        consumer.close()


@pytest.fixture
def adapter_platform(settings: Settings, tmp_path: Path) -> Iterator[Platform]:
    running = Platform(settings, tmp_path / "platform")
    try:
        yield running
    finally:
        running.stop()


def test_e2e_adapter_golden_samples_stored_with_exact_totals(adapter_platform: Platform) -> None:
    """Raw points per measurement and vendor: the golden envelopes' count and totals, exactly;
    the events topic: each accepted sample's envelope (device time moved, source_format
    adapter:<name>); the dead letters: each refused sample's reason and native field, counted
    per vendor and reason in ``deadletters``."""
    platform = adapter_platform
    samples = _samples(datetime.now(UTC))
    keyed = [((s.envelope.device_id, s.envelope.seq or 0), s) for s in samples if s.envelope]
    accepted = [s for _, s in sorted(keyed, key=lambda pair: pair[0])]
    refused = [s for s in samples if s.rejected is not None]
    assert accepted
    assert refused
    assert len(accepted) + len(refused) == len(samples)
    _registry(samples).write_csv(platform.registry_path)
    platform.start_stream()
    platform.start_collector(extra_env={"CITYIOT_COLLECTOR_ADAPTERS_DIR": str(EXAMPLES)})
    platform.wait_collector_connected()
    # In seq order per device, as a device sends them, the refused ones after.
    _publish(platform, [*accepted, *refused])

    expected = _expected_totals(samples)
    letters = Counter((s.topic.split("/")[1], s.rejected["reason"]) for s in refused if s.rejected)

    def stored() -> None:
        platform.children.check()
        try:
            totals = _stored_totals(platform, {kind for kind, _ in expected})
            dead = _stored_deadletters(platform)
        except InfluxQueryError as exc:  # the worker creates the database with its first write
            raise AssertionError(f"not readable yet: {exc}") from None
        assert totals == expected
        assert dead == letters

    eventually(stored, what="the golden totals and dead letters in InfluxDB")

    events = _events(platform.settings.kafka)
    assert len(events) == len(accepted)
    by_seq = {(e.device_id, e.seq): e for e in events}
    for sample in accepted:
        want = sample.envelope
        assert want is not None
        got = by_seq[(want.device_id, want.seq)]
        assert got.source_format == sample.adapter.source_format, sample.name
        fields = {"received_at", "enrichment"}
        assert got.model_dump(exclude=fields) == want.model_dump(exclude=fields), sample.name

    prefix = platform.settings.mqtt.topic_prefix
    refusals = sorted(
        (letter.record.topic or "", letter.reason, letter.record.field or "")
        for letter in read_deadletters(platform.settings.kafka)
        if letter.record is not None
    )
    assert refusals == sorted(
        (f"{prefix}/{s.topic}", s.rejected["reason"], s.rejected["field"])
        for s in refused
        if s.rejected
    )
