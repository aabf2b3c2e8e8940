"""Device status, on every facility's ``status`` channel: retained, and the MQTT last will."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.common import Body, WireHeader

__all__ = ["DeviceStatus", "DeviceStatusMessage"]


class _StatusFields(Body):
    state: Literal["online", "offline"]
    reason: str | None = Field(
        None,
        pattern=r"^[\x20-\x7e]{1,128}$",
        description="Why, e.g. boot, shutdown, connection_lost (printable ASCII).",
    )
    firmware: str | None = Field(None, pattern=r"^[\x21-\x7e]{1,64}$")


class DeviceStatus(_StatusFields):
    """The device came online or went offline."""

    kind: Literal["device_status"] = "device_status"


class DeviceStatusMessage(_StatusFields, WireHeader):
    """Wire form of :class:`DeviceStatus` (topic ``city/{facility}/{vendor}/{id}/status``)."""
