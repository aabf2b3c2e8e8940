"""PNG pictures of the dashboards for people without Grafana, from the very same queries.

Each dashboard becomes one PNG laid out on Grafana's 24-column grid: stats as big numbers,
time series as lines or stacked bars, pies, bar charts by tag, tables, and the geomap as a
scatter of WGS-84 positions coloured by speed. Labels are bilingual when a CJK font is installed
(Debian: ``fonts-wqy-microhei`` or ``fonts-noto-cjk``); without one, only the English half of
each title is drawn, instead of boxes.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.axes import Axes

from core.influx import InfluxTarget
from dashboards.build import build_all
from dashboards.influx import FRAME_TIME, PanelData, Table, run_panel
from dashboards.labels import DISTRICT_NAMES
from dashboards.queries import TimeRange, iter_panels
from dashboards.transforms import shown_tables
from dashboards.variables import ALL

__all__ = ["cjk_font", "render_snapshots"]

log = logging.getLogger("cityiot.dashboards.snapshot")

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
ROW_INCH = 0.42  # one Grafana grid row (30 px) at the figure's scale
WIDTH_INCH = 20.0
UNIT_SUFFIX = {
    "currencyCNY": "¥",
    "masskg": " kg",
    "percent": " %",
    "velocitykmh": " km/h",
    "celsius": " °C",
    "s": " s",
    "ms": " ms",
}
VARIABLES = {"datasource": "cityiot-influxdb", "district": ALL, "facility": ALL, "vendor": ALL}


def cjk_font() -> str | None:
    """The first installed font family that has Chinese glyphs, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


def _label(text: str, cjk: bool) -> str:
    if cjk or text.isascii():
        return text
    # "中文 / English" → "English"; "海曙区 Haishu" → "Haishu"
    if " / " in text:
        return text.split(" / ")[-1]
    return " ".join(word for word in text.split() if word.isascii()) or text


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "currencyCNY":
        return f"¥{value:,.2f}"
    if unit == "percentunit":
        return f"{value * 100:,.1f} %"
    digits = 0 if abs(value) >= 100 or float(value).is_integer() else 1
    return f"{value:,.{digits}f}{UNIT_SUFFIX.get(unit, '')}"


def _override(panel: Mapping[str, Any], prop_id: str) -> dict[str, Any]:
    """Per field name, the value its ``byName`` override gives ``prop_id``."""
    out = {}
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        for prop in override.get("properties", []):
            if prop.get("id") == prop_id:
                out[override["matcher"]["options"]] = prop["value"]
    return out


def _names(panel: Mapping[str, Any]) -> dict[str, str]:
    return _override(panel, "displayName")


def _stat(ax: Axes, panel: Mapping[str, Any], data: PanelData, unit: str, cjk: bool) -> None:
    ax.axis("off")
    shown = [s for s in data.series if any(v is not None for v in s.values)]
    for i, series in enumerate(shown):
        value = next(v for v in reversed(series.values) if v is not None)
        y = 0.5 if len(shown) == 1 else 0.7 - 0.45 * i / max(len(shown) - 1, 1)
        ax.text(
            0.5,
            y,
            _fmt(value, unit),
            ha="center",
            va="center",
            fontsize=20,
            color="#1f77b4",
            transform=ax.transAxes,
        )
        if len(shown) > 1:
            ax.text(
                0.5,
                y - 0.17,
                _label(series.name, cjk),
                ha="center",
                fontsize=8,
                transform=ax.transAxes,
            )


def _timeseries(ax: Axes, panel: Mapping[str, Any], data: PanelData, unit: str, cjk: bool) -> None:
    names = _names(panel)
    custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
    stacked = custom.get("stacking", {}).get("mode") == "normal"
    labels = [
        _label(names.get(s.name, DISTRICT_NAMES.get(s.name, s.name)), cjk) for s in data.series
    ]
    # Every series of a GROUP BY time() ... fill() query shares one time axis.
    times = sorted({t for s in data.series for t in s.times})
    # Matplotlib's date numbers (days since the epoch): typed floats, no converter needed.
    moments = [t / 86_400_000 for t in times]
    columns = []
    for series in data.series:
        at = dict(zip(series.times, series.values, strict=True))
        columns.append([at.get(t) for t in times])
    # Per-day charts have a few buckets: bars (and dots) show them; at one bucket an area or a
    # line is invisible. Finer charts keep areas and lines, much faster at hundreds of buckets.
    per_day = _per_day(panel)
    if per_day and custom.get("drawStyle") == "bars":
        _bar_series(ax, moments, labels, columns, stacked=stacked)
    elif stacked:
        # An area per series rather than thousands of bar patches: same picture, 50x faster.
        ax.stackplot(
            moments,
            *[[v or 0.0 for v in c] for c in columns],
            labels=labels,
            step="post",
            alpha=0.85,
        )
    else:
        for label, column in zip(labels, columns, strict=True):
            ax.plot(
                moments,
                [float("nan") if v is None else v for v in column],
                label=label,
                linewidth=1,
                marker="o" if per_day else None,
                markersize=3,
            )
    ax.xaxis_date(tz="Asia/Shanghai")
    if per_day and moments:
        # One tick a day, and a day of margin: a lone bucket would otherwise span years.
        ax.set_xlim(moments[0] - 1, moments[-1] + 1)
        ax.xaxis.set_major_locator(mdates.DayLocator(tz="Asia/Shanghai"))  # type: ignore[no-untyped-call]
    ticks = "%m-%d" if per_day else "%H:%M"
    ax.xaxis.set_major_formatter(mdates.DateFormatter(ticks, tz="Asia/Shanghai"))  # type: ignore[no-untyped-call]
    ax.set_ylabel(UNIT_SUFFIX.get(unit, "").strip())
    ax.legend(fontsize=6, loc="upper left", ncol=3)


def _per_day(panel: Mapping[str, Any]) -> bool:
    return any("time(1d)" in t.get("query", "") for t in panel.get("targets", []))


def _bar_series(
    ax: Axes,
    moments: list[float],
    labels: list[str],
    columns: list[list[float | None]],
    *,
    stacked: bool,
) -> None:
    """One bar per bucket: stacked, or the series side by side inside it."""
    steps = [b - a for a, b in itertools.pairwise(moments)]
    width = 0.8 * (min(steps) if steps else 1.0)  # date numbers are days
    bottoms = [0.0] * len(moments)
    for k, (label, column) in enumerate(zip(labels, columns, strict=True)):
        values = [v or 0.0 for v in column]
        if stacked:
            ax.bar(moments, values, width, bottom=bottoms, label=label)
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        else:
            part = width / len(columns)
            xs = [m - width / 2 + (k + 0.5) * part for m in moments]
            ax.bar(xs, values, part, label=label)


def _pie(ax: Axes, panel: Mapping[str, Any], data: PanelData, unit: str, cjk: bool) -> None:
    names = _names(panel)
    series = [(s.name, sum(v or 0 for v in s.values)) for s in data.series]
    ax.pie(
        [v for _, v in series],
        labels=[_label(names.get(n, n), cjk) for n, _ in series],
        autopct="%1.0f%%",
        textprops={"fontsize": 7},
        wedgeprops={"width": 0.45},
    )


def _latest_rows(table: Table, key: str) -> dict[str, list[Any]]:
    column = table.columns.index(key)
    rows: dict[str, list[Any]] = {}
    for row in sorted(table.rows, key=lambda r: r[0]):
        rows[row[column]] = row  # later rows win: Grafana's groupBy lastNotNull
    return rows


def _bars(ax: Axes, panel: Mapping[str, Any], data: PanelData, unit: str, cjk: bool) -> None:
    key = panel["options"]["xField"]
    table = Table(data.tables[0].columns, [r for t in data.tables for r in t.rows])
    rows = _latest_rows(table, key)
    fields = [c for c in table.columns if c not in ("time", key)]
    xs = sorted(rows)
    width = 0.8 / len(fields)
    for i, name in enumerate(fields):
        column = table.columns.index(name)
        ax.bar(
            [j + i * width for j in range(len(xs))],
            [rows[x][column] or 0 for x in xs],
            width=width,
            label=name,
        )
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(xs))])
    ax.set_xticklabels([_label(DISTRICT_NAMES.get(x, x), cjk) for x in xs], fontsize=7, rotation=30)
    ax.legend(fontsize=7)


def _table(ax: Axes, panel: Mapping[str, Any], data: PanelData, unit: str, cjk: bool) -> None:
    ax.axis("off")
    tables = shown_tables(panel, data)
    columns = tables[0].columns
    shown = [i for i, c in enumerate(columns) if c not in ("time", FRAME_TIME)]
    units, empty = _override(panel, "unit"), _override(panel, "noValue")
    rows = [r for t in tables for r in t.rows]
    # The panel's sort column (largest first), else the last one (seconds silent, a count).
    sort_by = panel.get("options", {}).get("sortBy") or [{}]
    key = columns.index(sort_by[0]["displayName"]) if "displayName" in sort_by[0] else -1
    rows.sort(key=lambda r: -r[key] if isinstance(r[key], int | float) else 0)

    def cell(row: list[Any], i: int) -> str:
        value = row[i]
        if value is None:
            return str(empty.get(columns[i], "–"))
        if isinstance(value, float):
            return _fmt(value, units.get(columns[i], unit))
        return str(value)

    cells = [[cell(row, i) for i in shown] for row in rows[:8]]
    labels = [_label(columns[i], cjk) for i in shown]
    ax.table(cellText=cells, colLabels=labels, loc="upper center", fontsize=7)


def _geomap(ax: Axes, panel: Mapping[str, Any], data: PanelData, unit: str, cjk: bool) -> None:
    rows = [r for t in data.tables for r in t.rows]
    columns = data.tables[0].columns
    lat, lon, speed = (columns.index(c) for c in ("lat", "lon", "speed"))
    points = ax.scatter(
        [r[lon] for r in rows],
        [r[lat] for r in rows],
        c=[r[speed] or 0 for r in rows],
        cmap="RdYlGn_r",
        s=12,
        vmin=0,
        vmax=60,
    )
    ax.set_xlabel("lon (WGS-84)")
    ax.set_ylabel("lat")
    ax.set_aspect(1 / 0.87)  # cos(29.9°): degrees of longitude are shorter here
    plt.colorbar(points, ax=ax, label="km/h")


DRAW = {
    "stat": _stat,
    "timeseries": _timeseries,
    "piechart": _pie,
    "barchart": _bars,
    "table": _table,
    "geomap": _geomap,
}


def render_board(
    board: Mapping[str, Any], target: InfluxTarget, path: Path, *, time_range: TimeRange, cjk: bool
) -> None:
    panels = list(iter_panels(board))
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    height = rows * ROW_INCH + 0.8
    fig = plt.figure(figsize=(WIDTH_INCH, height))
    # Keep ~0.6 inch above the grid for the dashboard title, whatever the figure's height.
    grid = fig.add_gridspec(
        rows, 24, hspace=4.0, wspace=1.5, left=0.04, right=0.98, top=1 - 0.7 / height, bottom=0.04
    )
    fig.suptitle(_label(board["title"], cjk), fontsize=15)
    for panel in panels:
        pos = panel["gridPos"]
        ax = fig.add_subplot(grid[pos["y"] : pos["y"] + pos["h"], pos["x"] : pos["x"] + pos["w"]])
        ax.set_title(_label(panel["title"], cjk), fontsize=9)
        data = run_panel(
            panel,
            target,
            dashboard_range=time_range,
            timezone=board["timezone"],
            variables=VARIABLES,
        )
        unit = panel["fieldConfig"]["defaults"].get("unit", "")
        if data.blank():
            ax.axis("off")
            ax.text(0.5, 0.5, "No data", ha="center", transform=ax.transAxes, color="grey")
            continue
        DRAW[panel["type"]](ax, panel, data, unit, cjk)
        ax.tick_params(labelsize=7)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def render_snapshots(
    target: InfluxTarget,
    directory: Path,
    *,
    span: timedelta = timedelta(hours=6),
    now: datetime | None = None,
    uids: Sequence[str] | None = None,
) -> list[Path]:
    """One ``<uid>.png`` per dashboard in ``directory``, for the ``span`` ending ``now``."""
    family = cjk_font()
    if family is not None:
        plt.rcParams["font.family"] = [family, "DejaVu Sans"]
    else:
        log.warning("no CJK font installed: snapshots show English titles only")
    time_range = TimeRange.last(span, now=now or datetime.now(UTC))
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for uid, board in build_all().items():
        if uids is not None and uid not in uids:
            continue
        path = directory / f"{uid}.png"
        render_board(board, target, path, time_range=time_range, cjk=family is not None)
        written.append(path)
    return written
