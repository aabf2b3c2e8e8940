"""Protocol gateway settings (``CITYIOT_GATEWAY_*``), a section of :class:`core.settings.Settings`.

Read by ``cityiot gateway jt808`` (gateways/jt808/README.md): where it listens for JT/T 808
terminals, when it gives up on a silent connection, how terminals authenticate, which terminal
is which device, and as which vendor it publishes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["GatewaySettings"]


class GatewaySettings(BaseModel):
    """The JT/T 808 gateway: a TCP server for BeiDou vehicle terminals, publishing over MQTT."""

    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    listen_host: str = Field(
        "127.0.0.1",
        description="Address the gateway listens on for terminals; 0.0.0.0 for every interface.",
    )
    # JT/T 808 has no registered port; 6808 is a common choice of platforms.
    listen_port: int = Field(6808, ge=0, le=65535, description="TCP port for terminals.")
    vendor: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="Vendor slug the terminals' messages are published under "
        "(city/mobility/<vendor>/...); default: CITYIOT_MQTT_USERNAME, which the broker's ACL "
        "pins to that subtree.",
    )
    idle_timeout_s: float = Field(
        180.0,
        gt=0,
        description="A connection that completes no frame for this long is closed (a half-open "
        "connection, a terminal trickling bytes); three missed 60 s heartbeats by default.",
    )
    auth: Literal["code", "open"] = Field(
        "code",
        description="'code': a terminal authenticates (0x0102) with the code it got at "
        "registration (0x8100); 'open': any code is accepted.",
    )
    auth_secret: SecretStr | None = Field(
        None,
        description="Key of the authentication codes (HMAC of the phone number): the same on "
        "every replica, so codes survive restarts. Unset: a random key per start (terminals "
        "register again after a restart). Secret: never logged.",
    )
    mapping_path: Path | None = Field(
        None,
        description="CSV phone,device_id[,terminal_id] of the terminals accepted; unset: every "
        "terminal, its device id being its phone number without padding zeros.",
    )
    max_connections: int = Field(
        20_000,
        ge=1,
        description="Connections served at once; a terminal beyond them is closed at once "
        "(and retries), so a flood cannot exhaust the process's file descriptors.",
    )
    publish_timeout_s: float = Field(
        30.0,
        gt=0,
        description="How long a report waits for the broker's acknowledgement; after it the "
        "terminal gets no answer and sends the report again.",
    )
