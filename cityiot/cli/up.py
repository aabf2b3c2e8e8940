"""``cityiot up``: the embedded default, the whole platform on one machine."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from cityiot.errors import ServiceError
from cityiot.local.runner import LocalServers
from cityiot.settings import Settings

__all__ = ["up"]


def up(
    run_dir: Annotated[
        Path | None,
        typer.Option(help="Configs, data and logs [default: $CITYIOT_RUN_DIR or .cityiot]"),
    ] = None,
) -> None:
    """Start Mosquitto, Tansu and InfluxDB on their standard ports and run until Ctrl-C."""
    settings = Settings()
    servers = LocalServers(
        run_dir=run_dir or settings.run_dir,
        mqtt_port=settings.mqtt.port,
        kafka_port=int(settings.kafka.bootstrap_servers.split(",")[0].rpartition(":")[2]),
        influxdb_port=int(settings.influxdb.url.rpartition(":")[2]),
        database=settings.influxdb.database,
        mqtt_auth_dir=settings.mqtt.auth_dir,
    )
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    state = servers.start()
    for server in state.servers:
        typer.echo(f"ready  {server.name:<9} {server.url:<28} log {server.log}")
    typer.echo(
        "Still to come in `cityiot up`: the collector, the streams worker and the simulator.\n"
        "Ctrl-C stops everything."
    )
    try:
        exited = servers.wait(stop.is_set)
    finally:
        servers.stop()
    if exited is not None:
        raise ServiceError(
            exited, "exited unexpectedly; the others were stopped", log=state.get(exited).log
        )
    typer.echo("stopped")
