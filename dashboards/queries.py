"""Grafana's side of a panel query, done here: time range, ``$timeFilter``, intervals, variables.

The snapshot renderer and the tests run panel queries without Grafana, so this module expands
them the way Grafana's InfluxDB datasource does: ``$timeFilter`` becomes
``time >= <ms>ms and time <= <ms>ms``, ``$__interval`` a rounded duration no finer than the panel's
minimum, ``$var`` / ``${var}`` / ``[[var]]`` the selected value (``All`` is ``.*``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "BUILTINS",
    "PanelQuery",
    "TimeRange",
    "expand",
    "iter_panels",
    "panel_queries",
    "panel_range",
    "parse_duration",
    "variable_refs",
]

# Grafana's own variables and macros that InfluxDB queries may use.
BUILTINS = frozenset(
    {"timeFilter", "__interval", "__interval_ms", "__all", "__from", "__to", "__range"}
)
# Aim for about this many points per series, as Grafana does from the panel's pixel width.
TARGET_POINTS = 300
_NICE_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def parse_duration(text: str) -> timedelta:
    """``30s``, ``5m``, ``6h``, ``1d`` → timedelta."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(seconds=int(match.group(1)) * _UNITS_S[match.group(2)])


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @classmethod
    def last(cls, span: timedelta, *, now: datetime) -> TimeRange:
        return cls(now - span, now)


def panel_range(
    panel: Mapping[str, Any], dashboard_range: TimeRange, *, timezone: str
) -> TimeRange:
    """The panel's own range: its ``timeFrom`` override (``now/d``, ``5m``) or the dashboard's."""
    override = panel.get("timeFrom")
    if not override:
        return dashboard_range
    end = dashboard_range.end
    if override == "now/d":
        local = end.astimezone(ZoneInfo(timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return TimeRange(midnight.astimezone(UTC), end)
    return TimeRange(end - parse_duration(override.removeprefix("now-")), end)


def interval_for(span: timedelta, minimum: str | None) -> timedelta:
    """Grafana's ``$__interval``: range / points rounded up to a nice step, >= ``minimum``."""
    floor = parse_duration(minimum).total_seconds() if minimum else 1
    wanted = max(span.total_seconds() / TARGET_POINTS, floor)
    for step in _NICE_S:
        if step >= wanted:
            return timedelta(seconds=step)
    return timedelta(seconds=_NICE_S[-1])


def _format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds % _UNITS_S[unit] == 0:
            return f"{seconds // _UNITS_S[unit]}{unit}"
    return f"{seconds}s"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def expand(
    text: str,
    *,
    time_range: TimeRange,
    interval: timedelta,
    variables: Mapping[str, str],
) -> str:
    """Replace macros and variables in one query as Grafana would before sending it."""
    text = text.replace(
        "$timeFilter",
        f"time >= {_ms(time_range.start)}ms and time <= {_ms(time_range.end)}ms",
    )
    text = text.replace("$__interval_ms", str(int(interval.total_seconds() * 1000)))
    text = text.replace("$__interval", _format_duration(interval))

    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in variables:
            raise KeyError(f"variable ${name} has no value")
        return variables[name]

    return _VAR.sub(value, text)


def variable_refs(text: str) -> set[str]:
    """Names of the variables (and macros) a text refers to."""
    return {next(g for g in m.groups() if g) for m in _VAR.finditer(text)}


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included; rows themselves are not yielded."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


@dataclass(frozen=True)
class PanelQuery:
    """One InfluxQL target of a panel, expanded and ready for ``/query``."""

    ref_id: str
    text: str
    result_format: str
    alias: str | None
    hidden: bool


def panel_queries(
    panel: Mapping[str, Any],
    *,
    dashboard_range: TimeRange,
    timezone: str,
    variables: Mapping[str, str],
) -> list[PanelQuery]:
    """The panel's InfluxQL targets expanded for ``dashboard_range`` (math expressions skipped)."""
    time_range = panel_range(panel, dashboard_range, timezone=timezone)
    interval = interval_for(time_range.end - time_range.start, panel.get("interval"))
    out = []
    for target in panel.get("targets", []):
        if (target.get("datasource") or {}).get("type") == "__expr__":
            continue
        out.append(
            PanelQuery(
                ref_id=target["refId"],
                text=expand(
                    target["query"], time_range=time_range, interval=interval, variables=variables
                ),
                result_format=target.get("resultFormat", "time_series"),
                alias=target.get("alias"),
                hidden=bool(target.get("hide")),
            )
        )
    return out
