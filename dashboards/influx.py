"""Run a panel's queries against InfluxDB and shape the answer like Grafana.

Used by ``cityiot dashboards snapshot`` and by the tests that prove no panel is blank. The
queries go through :class:`core.influx.InfluxTarget`; this module only does what Grafana does
with the answer. A panel's result is a list of :class:`Series` (name, timestamps, values), the
way Grafana names them: ``alias`` with ``$tag_<key>`` and ``$col``, else
``<measurement>.<column> {tags}``; table queries keep their rows. Math expressions
(``$A / $B * 100``) are evaluated point by point.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.influx import InfluxTarget
from dashboards.queries import PanelQuery, TimeRange, panel_queries

__all__ = ["FRAME_TIME", "PanelData", "Series", "Table", "run_panel"]

# The time column of a table frame: Grafana's InfluxQL response parser names it so.
FRAME_TIME = "Time"


@dataclass
class Series:
    name: str
    times: list[int]
    values: list[float | None]


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class PanelData:
    """What a panel would draw: series (time series, stats, pies) and tables (bars, maps).

    ``tables`` has one table per InfluxDB series; ``frames`` one per ``table`` query, as
    Grafana's datasource hands them to the panel's transformations (``dashboards.transforms``):
    ``Time``, the tags, the columns, every series of the query appended.
    """

    series: list[Series] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    frames: list[Table] = field(default_factory=list)

    def blank(self) -> bool:
        """True when Grafana would show "No data": no non-null value anywhere."""
        if any(v is not None for s in self.series for v in s.values):
            return False
        return not any(t.rows for t in self.tables)


def _series_name(query: PanelQuery, raw: Mapping[str, Any], column: str) -> str:
    tags: Mapping[str, str] = raw.get("tags") or {}
    if query.alias:
        name = query.alias.replace("$col", column)
        name = name.replace("$measurement", raw["name"]).replace("$m", raw["name"])
        for key, value in tags.items():
            name = name.replace(f"$tag_{key}", value)
        return name
    suffix = " {" + ", ".join(f"{k}: {v}" for k, v in tags.items()) + "}" if tags else ""
    return f"{raw['name']}.{column}{suffix}"


def _shape(query: PanelQuery, answer: list[dict[str, Any]], data: PanelData) -> list[Series]:
    if query.result_format == "table":
        frame = Table([], [])
        for raw in answer:
            tags = raw.get("tags") or {}
            columns = ["time", *tags.keys(), *raw["columns"][1:]]
            rows = [[row[0], *tags.values(), *row[1:]] for row in raw["values"]]
            data.tables.append(Table(columns, rows))
            frame.columns = [FRAME_TIME, *columns[1:]]
            frame.rows += rows
        if answer:
            data.frames.append(frame)
        return []
    out = []
    for raw in answer:
        for index, column in enumerate(raw["columns"][1:], start=1):
            out.append(
                Series(
                    _series_name(query, raw, column),
                    [row[0] for row in raw["values"]],
                    [row[index] for row in raw["values"]],
                )
            )
    return out


_OPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _evaluate(expression: str, inputs: Mapping[str, Series]) -> Series:
    """Grafana math over single-series inputs joined on timestamps (all cityiot needs)."""
    tree = ast.parse(expression.replace("$", "_v_"), mode="eval").body
    times = sorted(set.intersection(*(set(s.times) for s in inputs.values()))) if inputs else []

    def at(node: ast.expr, t: int) -> float | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id.startswith("_v_"):
            s = inputs[node.id[3:]]
            return s.values[s.times.index(t)]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = at(node.left, t), at(node.right, t)
            if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
                return None
            return _OPS[type(node.op)](left, right)
        raise ValueError(f"unsupported math expression {expression!r}")

    return Series("", times, [at(tree, t) for t in times])


def run_panel(
    panel: Mapping[str, Any],
    target: InfluxTarget,
    *,
    dashboard_range: TimeRange,
    timezone: str,
    variables: Mapping[str, str],
) -> PanelData:
    """Every query of the panel, expanded as Grafana would, against ``target``."""
    data = PanelData()
    by_ref: dict[str, list[Series]] = {}
    for query in panel_queries(
        panel, dashboard_range=dashboard_range, timezone=timezone, variables=variables
    ):
        series = _shape(query, target.query(query.text), data)
        by_ref[query.ref_id] = series
        if not query.hidden:
            data.series.extend(series)
    for spec in panel.get("targets", []):
        if (spec.get("datasource") or {}).get("type") != "__expr__":
            continue
        refs = {ref: by_ref.get(ref, []) for ref in by_ref if f"${ref}" in spec["expression"]}
        if all(len(s) == 1 for s in refs.values()):
            result = _evaluate(spec["expression"], {ref: s[0] for ref, s in refs.items()})
            result.name = spec["refId"]
            data.series.append(result)
    return data
