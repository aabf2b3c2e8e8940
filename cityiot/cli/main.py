"""``cityiot``: the entry point that gathers every subcommand."""

from __future__ import annotations

import logging
import sys

import typer
from pydantic import BaseModel, ValidationError

from cityiot.cli import (
    acl,
    alerts,
    certs,
    collect,
    dashboards,
    deadletter,
    gateway,
    services,
    simulate,
    stream,
    up,
    vendors,
)
from cityiot.cli import adapters as adapters_cli
from cityiot.cli import schemas as schemas_cli
from core.errors import CityiotError, SettingError
from core.settings import Settings

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
app.add_typer(adapters_cli.app, name="adapters")
app.add_typer(gateway.app, name="gateway")
app.add_typer(alerts.app, name="alerts")
app.add_typer(dashboards.app, name="dashboards")
app.add_typer(deadletter.app, name="deadletter")
app.add_typer(vendors.app, name="vendors")
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
    except SettingError as exc:
        # Valid but unusable here (a port in use): a setting's problem, reported as one.
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except CityiotError as exc:
        # One line naming the cause and the fix; the traceback would only hide it.
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except ValidationError as exc:
        # A bad CITYIOT_* value (or the option that sets it): one line per value, naming the
        # variable, never echoing the value (it may be a URL with a token, a password).
        for line in setting_errors(exc):
            print(f"error: {line}", file=sys.stderr)
        sys.exit(2)


def setting_errors(exc: ValidationError) -> list[str]:
    """``CITYIOT_SECTION_FIELD: what is expected`` for each error of a settings validation."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        section = _SECTION_OF_MODEL.get(exc.title)
        if section is not None:
            loc = [section, *loc]
        if (exc.title == Settings.__name__ or section is not None) and loc:
            # CITYIOT_<SECTION>_<FIELD> for a section's field, CITYIOT_<FIELD> for a top one.
            depth = 2 if len(loc) > 1 and _is_section(loc[0]) else 1
            variable = "CITYIOT_" + "_".join(loc[:depth]).upper()
            inner = ".".join(loc[depth:])
            where = f"{variable} ({inner})" if inner else variable
        else:
            where = f"{exc.title} " + ".".join(loc)
        lines.append(f"{where}: {error['msg']}")
    return lines


def _section_models() -> dict[str, str]:
    """A section's model name → its name in Settings (GrafanaSettings → grafana)."""
    sections = {}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections[annotation.__name__] = name
    return sections


def _is_section(name: str) -> bool:
    field = Settings.model_fields.get(name)
    annotation = field.annotation if field is not None else None
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


_SECTION_OF_MODEL = _section_models()
