"""``cityiot acl``: Mosquitto's password file and ACL from the device registry's vendors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cityiot.access.acl import COLLECTOR_USER, write_auth_dir
from core.errors import CityiotError
from core.settings import Settings
from schemas import load_registry

__all__ = ["acl"]


def acl(
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to write [default: $CITYIOT_MQTT_AUTH_DIR or RUN_DIR/mqtt-auth]"),
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(help="Device registry [default: $CITYIOT_REGISTRY_PATH]")
    ] = None,
    vendor: Annotated[
        list[str] | None,
        typer.Option(help="Extra vendor slug (repeatable), e.g. before it has devices."),
    ] = None,
    simulator: Annotated[
        bool,
        typer.Option(help="Add the local simulator's user, who may write every vendor's topics."),
    ] = False,
    rotate: Annotated[bool, typer.Option(help="Replace existing passwords with new ones.")] = False,
) -> None:
    """One MQTT user per vendor (writes only under city/+/<vendor>/#); collectors only read."""
    settings = Settings()
    directory = out or settings.mqtt.auth_dir or settings.run_dir / "mqtt-auth"
    registry_path = registry or settings.registry_path
    vendors = set(vendor or [])
    if registry_path is not None:
        vendors |= {record.vendor for record in load_registry(registry_path)}
    if not vendors:
        raise CityiotError("no vendors: pass --registry FILE or --vendor SLUG")
    files = write_auth_dir(
        directory,
        vendors,
        prefix=settings.mqtt.topic_prefix,
        simulator=simulator,
        rotate=rotate,
    )
    typer.echo(f"wrote {files.password_file} and {files.acl_file} for {len(vendors)} vendors")
    typer.echo(f"passwords (0600): {files.directory / 'secrets'}/<user>.password")
    typer.echo(f"collectors connect as {COLLECTOR_USER}; each vendor as its slug")
    typer.echo(
        f"devices with their own certificate (cityiot certs --device ID): {files.device_acl_file}"
    )
    typer.echo(
        f"start Mosquitto with them: CITYIOT_MQTT_AUTH_DIR={files.directory} cityiot services up"
    )
