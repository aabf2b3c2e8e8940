"""``cityiot vendors``: the vendor scorecard as a table, for people without Grafana.

``report`` reads InfluxDB (``CITYIOT_INFLUXDB_*``) with the very queries of the Vendor scorecard
dashboard's "Vendor scorecard" and "Rejections by reason" panels over the span before now, and
prints one row per vendor (``cityiot/vendor_report.py`` builds it), or ``--json``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, NoReturn

import typer

from cityiot.vendor_report import build_report, report_json, report_text, scorecard_panels
from core.errors import CityiotError
from core.influx import InfluxAuthError, InfluxQueryError, InfluxTarget, InfluxUnavailable
from core.settings import Settings
from core.settings.describe import masked
from dashboards.influx import run_panel
from dashboards.queries import TimeRange, parse_duration
from dashboards.variables import ALL

__all__ = ["app"]

app = typer.Typer(help="Vendors: how well each one's devices talk to the platform.")

# Every vendor, every facility: the dashboard's variables at "All".
VARIABLES = {"datasource": "cityiot-influxdb", "facility": ALL, "vendor": ALL}


@app.callback()
def _group() -> None:
    """Vendors: how well each one's devices talk to the platform."""
    # A callback keeps `report` a named subcommand even while it is the only one.


def _bad(option: str, problem: str) -> NoReturn:
    """One line naming the option, exit 2: the CLI's way with bad input (cli/main.py)."""
    typer.echo(f"error: {option}: {problem}", err=True)
    raise typer.Exit(2)


def _span(text: str) -> timedelta:
    try:
        span = parse_duration(text)
    except ValueError:
        _bad("--since", f"{text!r} is not a span; expected a number and s, m, h, d or w (30m, 1d)")
    if not span:
        _bad("--since", "the span must be longer than 0")
    return span


@app.command("report")
def report(
    since: Annotated[
        str,
        typer.Option("--since", help="The span back from now the figures cover: 30m, 6h, 1d, 1w."),
    ] = "1d",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object instead of text.")
    ] = False,
) -> None:
    """Print the vendor scorecard: per vendor, messages, rejected and rejection rate by reason,
    seq gaps, reboots, late, clock skew p50/p99 and silent devices (exit 1 when InfluxDB
    cannot be read)."""
    span = _span(since)
    influxdb = Settings().influxdb
    target = InfluxTarget.from_settings(influxdb)
    panels = scorecard_panels()
    end = datetime.now(UTC)
    window = TimeRange.last(span, now=end)
    try:
        scorecard, reasons = [
            run_panel(
                panel,
                target,
                dashboard_range=window,
                timezone=panels.timezone,
                variables=VARIABLES,
            )
            for panel in (panels.scorecard, panels.reasons)
        ]
    except InfluxAuthError:
        raise  # its message names the user and the settings to check
    except InfluxUnavailable as exc:
        raise CityiotError(
            f"InfluxDB at {masked(influxdb.url)} did not answer ({exc}); check "
            "CITYIOT_INFLUXDB_URL and that InfluxDB runs"
        ) from None
    except InfluxQueryError as exc:
        if "database not found" not in exc.message:
            raise
        raise CityiotError(
            f"InfluxDB at {masked(influxdb.url)} has no database {influxdb.database!r}; check "
            "CITYIOT_INFLUXDB_DATABASE"
        ) from None
    result = build_report(panels, scorecard, reasons, start=window.start, end=window.end)
    typer.echo(json.dumps(report_json(result)) if as_json else report_text(result))
