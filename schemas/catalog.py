"""Which message model belongs to which (facility, channel): the one table to extend.

Adding a facility is a schema module, its rows here and its body in :data:`AnyBody`; the collectors
and the streams look messages up through this table and need no change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from schemas.common import Body, WireHeader
from schemas.mobility import (
    MobilityPosition,
    MobilityPositionMessage,
    MobilityTelemetry,
    MobilityTelemetryMessage,
)
from schemas.recycling import (
    RecyclingDropoff,
    RecyclingDropoffMessage,
    RecyclingTelemetry,
    RecyclingTelemetryMessage,
)
from schemas.status import DeviceStatus, DeviceStatusMessage
from schemas.store import (
    StoreCheckout,
    StoreCheckoutMessage,
    StoreGate,
    StoreGateMessage,
    StoreTelemetry,
    StoreTelemetryMessage,
)
from schemas.topic import CHANNELS_BY_FACILITY, Channel, Facility
from schemas.transit import (
    TransitTap,
    TransitTapMessage,
    TransitTelemetry,
    TransitTelemetryMessage,
)
from schemas.vending import (
    VendingSale,
    VendingSaleMessage,
    VendingTelemetry,
    VendingTelemetryMessage,
)

__all__ = ["MESSAGE_TYPES", "AnyBody", "MessageType", "message_type", "message_type_of_kind"]

AnyBody = Annotated[
    VendingSale
    | VendingTelemetry
    | RecyclingDropoff
    | RecyclingTelemetry
    | MobilityPosition
    | MobilityTelemetry
    | StoreGate
    | StoreCheckout
    | StoreTelemetry
    | TransitTap
    | TransitTelemetry
    | DeviceStatus,
    Field(discriminator="kind"),
]
"""The envelope body: a union tagged by ``kind``, so it survives a JSON round trip."""


@dataclass(frozen=True)
class MessageType:
    """One kind of device message: its wire model, its body model and where it is published.

    ``facilities`` lists where the channel carries this message (status: every facility).
    """

    kind: str
    channel: Channel
    facilities: tuple[Facility, ...]
    wire: type[WireHeader]
    body: type[Body]
    title: str
    body_fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(name for name in self.body.model_fields if name != "kind")
        object.__setattr__(self, "body_fields", names)
        missing = set(names) ^ (set(self.wire.model_fields) - set(WireHeader.model_fields))
        if missing:  # the two models drifted apart: a programming error, caught at import
            raise TypeError(f"{self.kind}: wire and body fields differ: {sorted(missing)}")


def _kind(body: type[Body]) -> str:
    default = body.model_fields["kind"].default
    assert isinstance(default, str)
    return default


def _mt(
    body: type[Body], wire: type[WireHeader], channel: Channel, title: str, *f: Facility
) -> MessageType:
    return MessageType(_kind(body), channel, f, wire, body, title)


MESSAGE_TYPES: tuple[MessageType, ...] = (
    _mt(VendingSale, VendingSaleMessage, Channel.EVENT, "Vending sale", Facility.VENDING),
    _mt(
        VendingTelemetry,
        VendingTelemetryMessage,
        Channel.TELEMETRY,
        "Vending machine telemetry",
        Facility.VENDING,
    ),
    _mt(
        RecyclingDropoff,
        RecyclingDropoffMessage,
        Channel.EVENT,
        "Recycling drop-off",
        Facility.RECYCLING,
    ),
    _mt(
        RecyclingTelemetry,
        RecyclingTelemetryMessage,
        Channel.TELEMETRY,
        "Recycling station telemetry",
        Facility.RECYCLING,
    ),
    _mt(
        MobilityPosition,
        MobilityPositionMessage,
        Channel.POSITION,
        "Vehicle position",
        Facility.MOBILITY,
    ),
    _mt(
        MobilityTelemetry,
        MobilityTelemetryMessage,
        Channel.TELEMETRY,
        "Vehicle telemetry",
        Facility.MOBILITY,
    ),
    _mt(StoreGate, StoreGateMessage, Channel.GATE, "Store gate pass", Facility.STORE),
    _mt(StoreCheckout, StoreCheckoutMessage, Channel.EVENT, "Store checkout", Facility.STORE),
    _mt(
        StoreTelemetry,
        StoreTelemetryMessage,
        Channel.TELEMETRY,
        "Store telemetry",
        Facility.STORE,
    ),
    _mt(TransitTap, TransitTapMessage, Channel.EVENT, "Transit validator tap", Facility.TRANSIT),
    _mt(
        TransitTelemetry,
        TransitTelemetryMessage,
        Channel.TELEMETRY,
        "Transit validator telemetry",
        Facility.TRANSIT,
    ),
    _mt(DeviceStatus, DeviceStatusMessage, Channel.STATUS, "Device status", *Facility),
)

_BY_ROUTE: dict[tuple[Facility, Channel], MessageType] = {
    (facility, mt.channel): mt for mt in MESSAGE_TYPES for facility in mt.facilities
}
_BY_KIND: dict[str, MessageType] = {mt.kind: mt for mt in MESSAGE_TYPES}

# Every channel the topic grammar allows has exactly one model, and no model is unreachable.
if set(_BY_ROUTE) != {(f, c) for f, cs in CHANNELS_BY_FACILITY.items() for c in cs}:
    raise TypeError("MESSAGE_TYPES does not cover CHANNELS_BY_FACILITY exactly")


def message_type(facility: Facility, channel: Channel) -> MessageType:
    """The message type published on ``facility``/``channel`` (a valid pair from parse_topic)."""
    return _BY_ROUTE[(facility, channel)]


def message_type_of_kind(kind: str) -> MessageType:
    """The message type whose body has this ``kind`` tag."""
    return _BY_KIND[kind]
