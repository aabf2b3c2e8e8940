"""The collector's pure core: raw MQTT message → Kafka record (an event or a dead letter).

Size check → topic → per-vendor quota → identity binding (the topic's vendor and facility are
the registry's) → per-device rate limit → (a vendor's own format: its adapter maps it onto the
platform's fields) → ``schemas.decode`` → registry and district enrichment → a record for
``city.events.v1`` keyed by device_id. Every rejection becomes a :class:`~schemas.DeadLetter`
for ``city.deadletter.v1`` carrying the raw payload.
No I/O, no clock: the caller passes the receive time; the registry and district index are loaded
by the service and handed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from adapters import AdapterSet, decode_adapted
from collectors.ratelimit import TokenBuckets, VendorQuota
from core.settings.collector import UnknownDevicePolicy
from schemas import (
    DeadLetter,
    DeviceRecord,
    DistrictIndex,
    Enrichment,
    Envelope,
    MobilityPosition,
    Registry,
    Rejected,
    RejectReason,
    Topic,
    decode,
    parse_topic,
)
from schemas.common import construct_validated
from schemas.ningbo import DISTRICTS_BY_ADCODE, District

__all__ = ["Inbound", "Pipeline", "RecordKind", "Routed"]

RecordKind = Literal["event", "deadletter"]


class Inbound(NamedTuple):
    """One MQTT message as the broker delivered it."""

    topic: str
    payload: bytes
    received_at: datetime  # timezone-aware wall-clock time (goes into the records)
    monotonic: float  # seconds on a monotonic clock (drives the rate limit)
    # The broker's DUP flag: it sent this message before (to a collector that died unacked).
    redelivered: bool = False


@dataclass(frozen=True, slots=True)
class Routed:
    """What one message became: a Kafka record for the events or the dead-letter topic."""

    kind: RecordKind
    key: bytes
    value: bytes
    reason: RejectReason | None = None


class Pipeline:
    """Decode, enrich and route device messages. Keeps only caches and rate-limit buckets."""

    def __init__(
        self,
        *,
        collector_id: str,
        registry: Registry | None,
        districts: DistrictIndex | None,
        unknown_devices: UnknownDevicePolicy = "deadletter",
        limiter: TokenBuckets | None = None,
        vendor_quota: VendorQuota | None = None,
        adapters: AdapterSet | None = None,
        prefix: str = "city",
        max_payload_bytes: int = 65_536,
        deadletter_payload_limit: int = 262_144,
    ) -> None:
        """``registry`` None means every device is unknown; ``districts`` None means mobile
        positions are not located (their district stays empty)."""
        self.collector_id = collector_id
        self.registry = registry
        self.districts = districts
        self.unknown_devices = unknown_devices
        self.limiter = limiter
        self.vendor_quota = vendor_quota
        if adapters is not None and adapters.prefix != prefix:
            raise ValueError(f"adapters match prefix {adapters.prefix!r}, topics use {prefix!r}")
        self.adapters = adapters
        self.prefix = prefix
        self.max_payload_bytes = max_payload_bytes
        self.deadletter_payload_limit = deadletter_payload_limit
        # Enrichment depends only on (device, district): build each once. Bounded by the
        # registry size times the eleven possible districts (ten and none).
        self._enrichments: dict[tuple[str, str | None], Enrichment] = {}

    def route(self, msg: Inbound) -> Routed:
        """The record ``msg`` becomes. Never raises for bad device input."""
        device_id: str | None = None
        try:
            if len(msg.payload) > self.max_payload_bytes:
                raise Rejected(
                    RejectReason.TOO_LARGE,
                    f"payload is {len(msg.payload)} bytes, limit is {self.max_payload_bytes}",
                )
            # A topic an adapter names (inside its vendor's ACL-pinned subtree) stands for the
            # platform topic it maps to; every other topic is the platform's own grammar.
            adapted = self.adapters.match(msg.topic) if self.adapters is not None else None
            if adapted is not None:
                topic = adapted.topic
            else:
                topic = parse_topic(msg.topic, prefix=self.prefix)
            device_id = topic.device_id
            # The quota is the vendor's (its MQTT user is pinned to this topic level), checked
            # first: a flood costs one bucket look-up and no registry or device state.
            quota = self.vendor_quota
            if quota is not None and not quota.allow(topic.vendor, msg.monotonic):
                rate, burst = quota.limits(topic.vendor)
                raise Rejected(
                    RejectReason.RATE_LIMITED,
                    f"vendor {topic.vendor!r} is over its quota of {rate:g} msg/s "
                    f"(burst {burst:g}) at this collector",
                )
            record = self._bound(topic)
            # After the binding: another vendor's messages must not drain this device's bucket.
            if self.limiter is not None and not self.limiter.allow(device_id, msg.monotonic):
                raise Rejected(
                    RejectReason.RATE_LIMITED,
                    f"more than {self.limiter.rate:g} msg/s (burst {self.limiter.burst:g}) "
                    "from this device",
                )
            if adapted is None:
                envelope = decode(
                    msg.topic,
                    msg.payload,
                    received_at=msg.received_at,
                    prefix=self.prefix,
                    max_bytes=self.max_payload_bytes,
                )
            else:
                envelope = decode_adapted(
                    adapted,
                    msg.payload,
                    received_at=msg.received_at,
                    max_bytes=self.max_payload_bytes,
                )
            envelope = self.enrich(envelope, record)
        except Rejected as exc:
            return self.dead_letter(msg, exc, device_id=device_id)
        return Routed("event", envelope.key.encode(), envelope.model_dump_json().encode())

    def _bound(self, topic: Topic) -> DeviceRecord | None:
        """The registry record of the topic's device, when the topic agrees with it.

        Raises:
            Rejected: ``wrong_vendor`` or ``wrong_facility`` when the device is registered to
                another vendor or facility than the topic names.
        """
        record = self.registry.get(topic.device_id) if self.registry is not None else None
        if record is None:
            return None
        if record.vendor != topic.vendor:
            # The registered vendor is not named: the sender may be the one probing for it.
            raise Rejected(
                RejectReason.WRONG_VENDOR,
                f"device {topic.device_id!r} is registered to another vendor than {topic.vendor!r}",
            )
        if record.facility is not topic.facility:
            raise Rejected(
                RejectReason.WRONG_FACILITY,
                f"device {topic.device_id!r} is registered as {record.facility.value}, "
                f"not {topic.facility.value}",
            )
        return record

    def enrich(self, envelope: Envelope, record: DeviceRecord | None = None) -> Envelope:
        """Fill ``enrichment`` from the registry and, for positions, the district index.

        ``record`` is the device's registry record when the caller has looked it up already.

        Raises:
            Rejected: ``unknown_device`` when the device is not registered and the policy is
                ``deadletter``.
        """
        if record is None and self.registry is not None:
            record = self.registry.get(envelope.device_id)
        if record is None and self.unknown_devices == "deadletter":
            raise Rejected(
                RejectReason.UNKNOWN_DEVICE,
                f"device {envelope.device_id!r} is not in the device registry",
            )
        district = self._district(envelope, record)
        if record is None and district is None:
            return envelope
        cache_key = (envelope.device_id, district.adcode if district is not None else None)
        enrichment = self._enrichments.get(cache_key)
        if enrichment is None:
            enrichment = _enrichment(record, district)
            self._enrichments[cache_key] = enrichment
        # What model_copy(update=...) gives (the values are validated already), at half the
        # cost; test_enrich_equals_model_copy guards it.
        return construct_validated(Envelope, {**envelope.__dict__, "enrichment": enrichment})

    def _district(self, envelope: Envelope, record: DeviceRecord | None) -> District | None:
        body = envelope.body
        if isinstance(body, MobilityPosition):
            # A moving asset is where its fix says, not in its home district.
            return self.districts.locate(body.lat, body.lon) if self.districts else None
        if record is not None and record.district_adcode:
            # Fixed devices stand where the registry says; a mobile asset's telemetry and status
            # carry no position and count in its home district.
            return DISTRICTS_BY_ADCODE.get(record.district_adcode)
        return None

    def dead_letter(self, msg: Inbound, exc: Rejected, *, device_id: str | None = None) -> Routed:
        """The dead-letter record for ``msg`` rejected with ``exc``."""
        if device_id is None:
            device_id = _device_id_of(msg.topic, self.prefix)
        record = DeadLetter.build(
            reason=exc.reason,
            detail=exc.detail,
            field=exc.field,
            topic=msg.topic,
            device_id=device_id,
            payload=msg.payload,
            payload_limit=self.deadletter_payload_limit,
            collector_id=self.collector_id,
            received_at=msg.received_at,
            redelivered=msg.redelivered,
        )
        key = device_id if device_id is not None else msg.topic
        return Routed("deadletter", key.encode(), record.model_dump_json().encode(), exc.reason)


def _device_id_of(topic: str, prefix: str) -> str | None:
    try:
        return parse_topic(topic, prefix=prefix).device_id
    except Rejected:
        return None


def _enrichment(record: DeviceRecord | None, district: District | None) -> Enrichment:
    return Enrichment(
        district_adcode=district.adcode if district else None,
        district_name=district.name_zh if district else None,
        district_name_en=district.name_en if district else None,
        vendor=record.vendor if record else None,
        lat=record.lat if record else None,
        lon=record.lon if record else None,
        asset_type=record.asset_type if record else None,
        expected_interval_s=record.expected_interval_s if record else None,
    )
