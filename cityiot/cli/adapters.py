"""``cityiot adapters``: check a vendor's payload adapter against its golden samples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapters import AdapterError, load_adapter, run_samples

__all__ = ["app"]

app = typer.Typer(
    help="Declarative payload adapters: vendors' own JSON mapped onto the platform's messages.",
    no_args_is_help=True,
)

# Exit codes: 1 a sample failed (the adapter or the samples are wrong), 2 the adapter file or
# the samples folder cannot be used at all (nothing was tested).
EXIT_FAILED = 1
EXIT_UNUSABLE = 2


@app.callback()
def _group() -> None:
    """Declarative payload adapters: vendors' own JSON mapped onto the platform's messages."""
    # A callback keeps `test` a named subcommand even while it is the only one.


@app.command("test")
def conformance(
    file: Annotated[Path, typer.Argument(help="The adapter file (YAML).")],
    samples: Annotated[
        Path,
        typer.Option(
            help="Folder of NAME.json native payloads, each with NAME.expected.json beside it."
        ),
    ],
    prefix: Annotated[str, typer.Option(help="First topic level of the samples' topics.")] = "city",
) -> None:
    """Map and decode every sample; print pass or fail per sample, exit 1 if any failed."""
    try:
        adapter = load_adapter(file)
    except AdapterError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None
    try:
        results = run_samples(adapter, samples, prefix=prefix)
    except OSError as exc:
        typer.echo(f"error: {samples}: cannot list samples: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None
    if not results:
        typer.echo(f"error: {samples}: no samples (NAME.json beside NAME.expected.json)", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    for result in results:
        typer.echo(f"{'pass' if result.passed else 'FAIL'}  {result.name}: {result.detail}")
    failed = sum(not r.passed for r in results)
    typer.echo(f"{adapter.source_format}: {len(results) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(EXIT_FAILED)
