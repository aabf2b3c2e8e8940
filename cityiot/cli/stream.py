"""``cityiot stream``: run a streams worker (events → dedup → InfluxDB points, roll-ups, alerts)."""

from __future__ import annotations

from typing import Annotated

import typer

from cityiot.cli.startup import log_settings
from core.settings import Settings
from streams.worker import run_stream

__all__ = ["stream"]


def stream(
    app_id: Annotated[
        str | None,
        typer.Option(help="Faust app id / consumer group [default: $CITYIOT_STREAM_APP_ID]."),
    ] = None,
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "warn",
) -> None:
    """Consume city.events.v1 and write raw points, 1-minute roll-ups, device health and alerts.

    Alert changes go to city.alerts.v1 (webhooks: `cityiot alerts run`); city.deadletter.v1
    becomes `deadletters` points, and each worker writes `platform_stats`.

    Start as many as there are partitions; each resumes from its committed offsets and
    recovers its state from the changelog. Stops cleanly on Ctrl-C / SIGTERM.
    """
    settings = Settings()
    if app_id is not None:
        settings = settings.model_copy(
            update={"stream": settings.stream.model_copy(update={"app_id": app_id})}
        )
    log_settings(settings, ("kafka", "influxdb", "stream", "alert"))
    run_stream(settings, loglevel=loglevel.upper())
