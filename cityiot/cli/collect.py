"""``cityiot collect``: run one collector replica (MQTT → Kafka) until SIGTERM or Ctrl-C.

Options override their ``CITYIOT_*`` variable for this run; every other setting comes from the
environment (``collectors/README.md`` lists them).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from cityiot.cli.startup import log_settings
from collectors.service import run_collector
from core.settings import Settings

__all__ = ["collect"]


def collect(
    client_id: Annotated[
        str | None,
        typer.Option(
            help="Stable MQTT client id of this replica [env: CITYIOT_COLLECTOR_CLIENT_ID]"
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(help="MQTT shared-subscription group [env: CITYIOT_COLLECTOR_GROUP]"),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(help="Device registry, CSV or YAML [env: CITYIOT_REGISTRY_PATH]"),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Prometheus /metrics port, 0 = off [env: CITYIOT_COLLECTOR_METRICS_PORT]"
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Level of the collector's log (summary lines are INFO).")
    ] = "INFO",
) -> None:
    """Take device messages from MQTT, validate and enrich them, and hand them to Kafka."""
    logging.getLogger("collectors").setLevel(log_level.upper())
    collector: dict[str, Any] = {}
    if client_id is not None:
        collector["client_id"] = client_id
    if group is not None:
        collector["group"] = group
    if metrics_port is not None:
        collector["metrics_port"] = metrics_port
    data = Settings().model_dump()
    data["collector"].update(collector)
    if registry is not None:
        data["registry_path"] = registry
    # Validated again as a whole: an option breaks the same rules as its variable.
    settings = Settings.model_validate(data)
    log_settings(settings, ("mqtt", "kafka", "collector"))
    run_collector(settings)
