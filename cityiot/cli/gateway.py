"""``cityiot gateway``: protocol gateways for terminals that do not speak MQTT.

``cityiot gateway jt808`` serves JT/T 808 (BeiDou vehicle terminals over TCP) until SIGTERM or
Ctrl-C. Options override their ``CITYIOT_*`` variable for this run; every other setting comes
from the environment (gateways/jt808/README.md lists them).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from cityiot.cli.startup import log_settings
from core.settings import Settings
from gateways.jt808 import run

__all__ = ["app"]

app = typer.Typer(
    help="Protocol gateways: terminals that cannot speak MQTT, onto the platform's messages.",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Protocol gateways: terminals that cannot speak MQTT, onto the platform's messages."""
    # A callback keeps `jt808` a named subcommand even while it is the only one.


@app.command("jt808")
def jt808(
    listen_port: Annotated[
        int | None,
        typer.Option(help="TCP port for terminals [env: CITYIOT_GATEWAY_LISTEN_PORT]"),
    ] = None,
    vendor: Annotated[
        str | None,
        typer.Option(
            help="Vendor slug of the topics [env: CITYIOT_GATEWAY_VENDOR, else "
            "CITYIOT_MQTT_USERNAME]"
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="CSV phone,device_id[,terminal_id] [env: CITYIOT_GATEWAY_MAPPING_PATH]"),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Level of the gateway's log (summary lines are INFO).")
    ] = "INFO",
) -> None:
    """Serve JT/T 808 terminals (2013 and 2019) and publish their positions over MQTT."""
    logging.getLogger("gateways").setLevel(log_level.upper())
    gateway: dict[str, Any] = {}
    if listen_port is not None:
        gateway["listen_port"] = listen_port
    if vendor is not None:
        gateway["vendor"] = vendor
    if mapping is not None:
        gateway["mapping_path"] = mapping
    data = Settings().model_dump()
    data["gateway"].update(gateway)
    # Validated again as a whole: an option breaks the same rules as its variable.
    settings = Settings.model_validate(data)
    log_settings(settings, ("mqtt", "gateway"))
    run(settings)
