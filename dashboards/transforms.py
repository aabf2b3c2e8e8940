"""Grafana's table transformations a panel may use: their JSON, and what Grafana makes of them.

Grafana applies a panel's transformations in the browser, after the queries. The snapshot and
the tests run the queries without Grafana, so :func:`apply` redoes them on the query results,
one frame per ``table`` query as Grafana's InfluxDB datasource builds it (``Time``, the tag
columns, the value columns; every series of the query appended). Each step follows Grafana 11.6
(``packages/grafana-data/src/transformations/transformers/``):

* ``merge``: rows of every frame joined on the fields all frames have (here ``Time`` and the
  tag); a row merges into every earlier row of its key that has no other value for its fields;
* ``calculateField``: a row's sum of named fields (nulls as zero), or a binary operation of two
  fields, where a null operand counts as 0 as in JavaScript;
* ``organize``: columns hidden, ordered and renamed.

A transformation not listed here raises :class:`ValueError`: a panel is never drawn other than
Grafana would draw it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from grafana_foundation_sdk.models import dashboard as dm

from dashboards.influx import FRAME_TIME, PanelData, Table

__all__ = ["FRAME_TIME", "apply", "binary", "merge", "organize", "row_sum", "shown_tables"]

# calculateField's binary operators, by Grafana's ids.
_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def merge() -> dm.DataTransformerConfig:
    """One table from the panel's queries, joined on the columns they share (``Time``, tags)."""
    return dm.DataTransformerConfig(id_val="merge", options={})


def row_sum(alias: str, include: Sequence[str]) -> dm.DataTransformerConfig:
    """A new column ``alias``: the row's sum of ``include`` (a missing value counts as 0)."""
    return dm.DataTransformerConfig(
        id_val="calculateField",
        options={
            "mode": "reduceRow",
            "reduce": {"include": list(include), "reducer": "sum", "nullValueMode": "null as zero"},
            "alias": alias,
            "timeSeries": False,
        },
    )


def binary(alias: str, left: str, op: str, right: str) -> dm.DataTransformerConfig:
    """A new column ``alias`` = column ``left`` ``op`` column ``right`` (op: + - * /)."""
    if op not in _BINARY:
        raise ValueError(f"binary operator {op!r} not in {sorted(_BINARY)}")
    return dm.DataTransformerConfig(
        id_val="calculateField",
        options={
            "mode": "binary",
            "binary": {
                "left": {"matcher": {"id": "byName", "options": left}},
                "operator": op,
                "right": {"matcher": {"id": "byName", "options": right}},
            },
            "alias": alias,
            "timeSeries": False,
        },
    )


def organize(
    order: Sequence[str], rename: Mapping[str, str], hide: Sequence[str] = ()
) -> dm.DataTransformerConfig:
    """Columns in ``order`` (others after them), renamed, ``hide`` left out."""
    return dm.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": dict.fromkeys(hide, True),
            "indexByName": {name: i for i, name in enumerate(order)},
            "renameByName": dict(rename),
        },
    )


# -- what Grafana does with them ---------------------------------------------------------------


def _merge(frames: list[Table]) -> list[Table]:
    frames = [f for f in frames if f.columns]
    if len(frames) <= 1:
        return frames
    columns: list[str] = []
    for frame in frames:
        columns += [c for c in frame.columns if c not in columns]
    keys = [c for c in columns if all(c in f.columns for f in frames)]
    if not keys:
        return frames
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    order: list[tuple[tuple[Any, ...], int]] = []
    for frame in frames:
        for raw in frame.rows:
            row = dict(zip(frame.columns, raw, strict=True))
            key = tuple(row[k] for k in keys)
            existing = by_key.setdefault(key, [])
            merged = False
            for i, other in enumerate(existing):
                if all(other.get(c) is None or other[c] == v for c, v in row.items()):
                    existing[i] = {**other, **row}
                    merged = True
            if not merged:
                existing.append(row)
                order.append((key, len(existing) - 1))
    rows = [[by_key[key][i].get(c) for c in columns] for key, i in order]
    return [Table(columns, rows)]


def _number(value: Any) -> float:
    # JavaScript arithmetic, which Grafana's calculateField uses: null is 0.
    return 0.0 if value is None else float(value)


def _calculate(frame: Table, options: Mapping[str, Any]) -> Table:
    mode = options.get("mode")
    alias = options["alias"]
    if mode == "reduceRow":
        reduce = options["reduce"]
        if reduce.get("reducer") != "sum" or reduce.get("nullValueMode") != "null as zero":
            raise ValueError(f"calculateField reduceRow {reduce!r} is not emulated")
        index = [frame.columns.index(c) for c in reduce["include"] if c in frame.columns]
        values: list[float | None] = [sum(_number(row[i]) for i in index) for row in frame.rows]
    elif mode == "binary":
        spec = options["binary"]
        op = _BINARY[spec["operator"]]
        left = frame.columns.index(spec["left"]["matcher"]["options"])
        right = frame.columns.index(spec["right"]["matcher"]["options"])
        values = []
        for row in frame.rows:
            try:
                result = op(_number(row[left]), _number(row[right]))
            except ZeroDivisionError:
                result = math.nan
            # NaN and ±Infinity show as such in Grafana; None here, "no number" to a test.
            values.append(result if math.isfinite(result) else None)
    else:
        raise ValueError(f"calculateField mode {mode!r} is not emulated")
    return Table(
        [*frame.columns, alias], [[*row, v] for row, v in zip(frame.rows, values, strict=True)]
    )


def _organize(frame: Table, options: Mapping[str, Any]) -> Table:
    hidden = {name for name, hide in options.get("excludeByName", {}).items() if hide}
    index: Mapping[str, int] = options.get("indexByName", {})
    kept = [c for c in frame.columns if c not in hidden]
    kept.sort(key=lambda c: index.get(c, len(index)))
    rename: Mapping[str, str] = options.get("renameByName", {})
    at = [frame.columns.index(c) for c in kept]
    return Table([rename.get(c, c) for c in kept], [[row[i] for i in at] for row in frame.rows])


def apply(transformations: Sequence[Mapping[str, Any]], frames: list[Table]) -> list[Table]:
    """The panel's ``transformations`` (its JSON) applied to its table frames, in order."""
    for spec in transformations:
        kind = spec.get("id")
        options = spec.get("options") or {}
        if kind == "merge":
            frames = _merge(frames)
        elif kind == "calculateField":
            frames = [_calculate(f, options) for f in frames]
        elif kind == "organize":
            frames = [_organize(f, options) for f in frames]
        else:
            raise ValueError(f"transformation {kind!r} is not emulated (dashboards/transforms.py)")
    return frames


def shown_tables(panel: Mapping[str, Any], data: PanelData) -> list[Table]:
    """The tables a table panel shows: its frames transformed, or its series as they came."""
    transformations = panel.get("transformations") or []
    return apply(transformations, data.frames) if transformations else data.tables
