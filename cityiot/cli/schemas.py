"""``cityiot schemas``: export the device contract (JSON Schemas, AsyncAPI 3.0) for vendors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from schemas.export import write_export

__all__ = ["app"]

app = typer.Typer(
    help="The device contract: topic grammar and message schemas.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """The device contract: topic grammar and message schemas."""
    # A callback keeps `export` a named subcommand even while it is the only one.


@app.command("export")
def export(
    directory: Annotated[
        Path, typer.Argument(help="Output folder; gets jsonschema/<kind>.json and asyncapi.json.")
    ],
) -> None:
    """Write one JSON Schema per message type and an AsyncAPI 3.0 document to DIRECTORY."""
    for path in write_export(directory):
        typer.echo(str(path))
