"""``cityiot certs``: a local CA, Mosquitto's server certificate and client certificates (PEM)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cityiot.access.acl import COLLECTOR_USER
from cityiot.access.certs import DEFAULT_HOSTS, LEAF_DAYS, KeyType, write_cert_dir
from core.settings import Settings

__all__ = ["certs"]


def certs(
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to write (default: RUN_DIR/mqtt-tls)"),
    ] = None,
    host: Annotated[
        list[str] | None,
        typer.Option(
            help="Extra DNS name or IP of the broker for the server certificate (repeatable); "
            "localhost and 127.0.0.1 are always in it."
        ),
    ] = None,
    client: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Client certificate to issue (repeatable; default: {COLLECTOR_USER}); "
            "its common name is the name given."
        ),
    ] = None,
    device: Annotated[
        list[str] | None,
        typer.Option(
            help="Device certificate to issue (repeatable): its common name is the device id, for "
            "the device listener where a device may publish only under its own id."
        ),
    ] = None,
    days: Annotated[
        int, typer.Option(min=1, help="Validity of the server and client certificates.")
    ] = LEAF_DAYS,
    key_type: Annotated[
        KeyType, typer.Option(help="ec (P-256) or rsa (2048) for old device TLS stacks.")
    ] = "ec",
    rotate: Annotated[
        bool,
        typer.Option(help="Make a new CA too (every client must then trust the new ca.crt)."),
    ] = False,
) -> None:
    """TLS for MQTT: keep the CA, issue the broker's and the clients' certificates (keys 0600)."""
    directory = out or Settings().run_dir / "mqtt-tls"
    files = write_cert_dir(
        directory,
        hosts=host or [],
        clients=client if client is not None else [COLLECTOR_USER],
        devices=device or [],
        days=days,
        key_type=key_type,
        rotate=rotate,
    )
    sans = ", ".join(dict.fromkeys([*DEFAULT_HOSTS, *(host or [])]))
    typer.echo(f"CA: {files.ca_cert} (give it to every client; keep {files.ca_key.name} private)")
    typer.echo(f"server: {files.server_cert}, {files.server_key} (names: {sans})")
    for name in files.clients:
        typer.echo(f"client {name}: {files.client_cert(name)}, {files.client_key(name)}")
    for device_id, (cert_path, key_path) in files.devices.items():
        typer.echo(f"device {device_id}: {cert_path}, {key_path}")
    typer.echo(
        "clients connect with CITYIOT_MQTT_URL=mqtts://HOST:8883 "
        f"CITYIOT_MQTT_TLS_CA_FILE={files.ca_cert}"
    )
