"""``cityiot dashboards``: build Grafana dashboards to JSON, push them, snapshot them to PNG."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import aiohttp
import typer

from core.errors import CityiotError, SettingError
from core.influx import InfluxTarget
from core.settings import Settings
from core.settings.describe import masked
from core.settings.grafana import GrafanaSettings
from dashboards.build import write_dashboards
from dashboards.push import PushError
from dashboards.push import push as push_dashboards
from dashboards.queries import parse_duration
from dashboards.snapshot import render_snapshots

__all__ = ["app"]

app = typer.Typer(help="Grafana dashboards as code: build, push, snapshot.", no_args_is_help=True)

# Grafana refusing the token (401) or its role (403): the token setting is what to fix.
CREDENTIAL_STATUSES = (401, 403)


def _grafana(settings: Settings) -> GrafanaSettings:
    return settings.grafana


@app.command("build")
def build(
    directory: Annotated[
        Path, typer.Argument(help="Output folder: <folder uid>/<dashboard uid>.json, folders.json.")
    ],
) -> None:
    """Write every dashboard's JSON to DIRECTORY (the folder Grafana's provisioning reads)."""
    for path in write_dashboards(directory):
        typer.echo(str(path))


@app.command("push")
def push(
    url: Annotated[
        str | None, typer.Option(help="Grafana base URL; default CITYIOT_GRAFANA_URL.")
    ] = None,
) -> None:
    """Create or update the folders and dashboards in Grafana (token: CITYIOT_GRAFANA_TOKEN).

    Grafana refusing the token (401, 403) is a setting's error: one line naming
    CITYIOT_GRAFANA_TOKEN and the refused call, exit 2.
    """
    grafana = _grafana(Settings())
    if url is not None:
        grafana = GrafanaSettings.model_validate({**grafana.model_dump(), "url": url})
    try:
        result = asyncio.run(push_dashboards(grafana))
    except PushError as exc:
        if exc.status not in CREDENTIAL_STATUSES:
            raise
        # Grafana's answer, never the token: the body says why ("invalid API key").
        raise SettingError(
            "CITYIOT_GRAFANA_TOKEN",
            f"Grafana refused it ({exc.call} answered {exc.status}: {exc.body[:300]!r}); "
            "expected a service-account token with the Editor role",
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        # One line naming where it tried (password masked) and the setting that says so.
        raise CityiotError(
            f"Grafana at {masked(grafana.url)} did not answer ({type(exc).__name__}); check "
            "CITYIOT_GRAFANA_URL (or --url) and that Grafana runs"
        ) from None
    for link in result.urls:
        typer.echo(link)


@app.command("snapshot")
def snapshot(
    directory: Annotated[Path, typer.Argument(help="Output folder: one <dashboard uid>.png each.")],
    last: Annotated[str, typer.Option(help="Time range ending now: 30m, 6h, 1d.")] = "6h",
) -> None:
    """Render each dashboard's panels to PNG from the same queries, read from InfluxDB."""
    try:
        span: timedelta = parse_duration(last)
    except ValueError:
        raise typer.BadParameter(
            "--last: expected a number and s, m, h, d or w, e.g. 30m, 6h, 1d", param_hint="--last"
        ) from None
    target = InfluxTarget.from_settings(Settings().influxdb)
    for path in render_snapshots(target, directory, span=span):
        typer.echo(str(path))
