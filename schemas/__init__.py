"""The device contract: topic grammar, message models, decoding, registry and districts.

Pure pydantic; the only I/O is reading the registry and boundary files when asked. Start with
:func:`decode` (raw MQTT message → :class:`Envelope` or :class:`Rejected`), then the models per
facility (``schemas.vending``, ``recycling``, ``mobility``, ``store``, ``transit``, ``status``)
and the table that maps (facility, channel) to them (``schemas.catalog``). The platform's own
messages: :class:`DeadLetter` (``city.deadletter.v1``), ``schemas.alert.Alert``
(``city.alerts.v1``) and the fields of the ``platform_stats`` point (:class:`PlatformStats`).
"""

from __future__ import annotations

from schemas.catalog import MESSAGE_TYPES, AnyBody, MessageType, message_type
from schemas.common import SCHEMA_VERSION, Body, WireHeader
from schemas.deadletter import DeadLetter, DeadLetterSource
from schemas.decode import MAX_FUTURE_SKEW, MAX_PAST_AGE, MAX_PAYLOAD_BYTES, decode
from schemas.districts import District, DistrictIndex, gcj02_to_wgs84, wgs84_to_gcj02
from schemas.encode import encode
from schemas.envelope import Enrichment, Envelope
from schemas.errors import (
    DistrictDataError,
    RegistryError,
    Rejected,
    RejectReason,
    SchemaError,
    StreamRejectReason,
)
from schemas.mobility import (
    MobilityPosition,
    MobilityPositionMessage,
    MobilityTelemetry,
    MobilityTelemetryMessage,
)
from schemas.ningbo import NINGBO_DISTRICT_LIST, NINGBO_DISTRICTS
from schemas.nmea import NmeaFix, parse_nmea
from schemas.platform import PlatformStats
from schemas.recycling import (
    BinLevel,
    RecyclingDropoff,
    RecyclingDropoffMessage,
    RecyclingTelemetry,
    RecyclingTelemetryMessage,
)
from schemas.registry import DeviceRecord, Registry, load_registry
from schemas.status import DeviceStatus, DeviceStatusMessage
from schemas.store import (
    BasketLine,
    Cabinet,
    GateState,
    StoreCheckout,
    StoreCheckoutMessage,
    StoreGate,
    StoreGateMessage,
    StoreTelemetry,
    StoreTelemetryMessage,
)
from schemas.topic import CHANNELS_BY_FACILITY, Channel, Facility, Topic, parse_topic
from schemas.transit import (
    TransitTap,
    TransitTapMessage,
    TransitTelemetry,
    TransitTelemetryMessage,
)
from schemas.vending import (
    SlotStock,
    VendingSale,
    VendingSaleMessage,
    VendingTelemetry,
    VendingTelemetryMessage,
)

__all__ = [
    "CHANNELS_BY_FACILITY",
    "MAX_FUTURE_SKEW",
    "MAX_PAST_AGE",
    "MAX_PAYLOAD_BYTES",
    "MESSAGE_TYPES",
    "NINGBO_DISTRICTS",
    "NINGBO_DISTRICT_LIST",
    "SCHEMA_VERSION",
    "AnyBody",
    "BasketLine",
    "BinLevel",
    "Body",
    "Cabinet",
    "Channel",
    "DeadLetter",
    "DeadLetterSource",
    "DeviceRecord",
    "DeviceStatus",
    "DeviceStatusMessage",
    "District",
    "DistrictDataError",
    "DistrictIndex",
    "Enrichment",
    "Envelope",
    "Facility",
    "GateState",
    "MessageType",
    "MobilityPosition",
    "MobilityPositionMessage",
    "MobilityTelemetry",
    "MobilityTelemetryMessage",
    "NmeaFix",
    "PlatformStats",
    "RecyclingDropoff",
    "RecyclingDropoffMessage",
    "RecyclingTelemetry",
    "RecyclingTelemetryMessage",
    "Registry",
    "RegistryError",
    "RejectReason",
    "Rejected",
    "SchemaError",
    "SlotStock",
    "StoreCheckout",
    "StoreCheckoutMessage",
    "StoreGate",
    "StoreGateMessage",
    "StoreTelemetry",
    "StoreTelemetryMessage",
    "StreamRejectReason",
    "Topic",
    "TransitTap",
    "TransitTapMessage",
    "TransitTelemetry",
    "TransitTelemetryMessage",
    "VendingSale",
    "VendingSaleMessage",
    "VendingTelemetry",
    "VendingTelemetryMessage",
    "WireHeader",
    "decode",
    "encode",
    "gcj02_to_wgs84",
    "load_registry",
    "message_type",
    "parse_nmea",
    "parse_topic",
    "wgs84_to_gcj02",
]
