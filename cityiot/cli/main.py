"""``cityiot``: the entry point that gathers every subcommand."""

from __future__ import annotations

import logging
import sys

import typer

from cityiot.cli import (
    acl,
    alerts,
    certs,
    collect,
    dashboards,
    services,
    simulate,
    stream,
    up,
)
from cityiot.cli import schemas as schemas_cli
from core.errors import CityiotError

__all__ = ["app", "main"]

app = typer.Typer(
    name="cityiot",
    help="Event-driven IoT data platform for a city's smart public facilities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(services.app, name="services")
app.command(name="up")(up.up)
app.command(name="acl")(acl.acl)
app.add_typer(schemas_cli.app, name="schemas")
app.add_typer(alerts.app, name="alerts")
app.add_typer(dashboards.app, name="dashboards")
app.command(name="certs")(certs.certs)
app.command(name="collect")(collect.collect)
app.command(name="simulate")(simulate.simulate)
app.command(name="stream")(stream.stream)


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        app()
    except CityiotError as exc:
        # One line naming the cause and the fix; the traceback would only hide it.
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
