"""The contract every cityiot dashboard keeps, checked without Grafana (which has no JSON Schema).

:func:`check_dashboard` returns the list of violations (empty = passes), so a test can show them
all at once. What it checks, and why:

* required keys, a stable uid, ``Asia/Shanghai`` timezone, titles in Chinese and English;
* panel types cityiot uses, unique ids, a unit on every panel, a grid inside 24 columns with no
  overlap (Grafana silently moves overlapping panels, breaking the intended layout);
* every target is raw InfluxQL through the ``$datasource`` variable with ``$timeFilter``, or a
  server-side math expression over refIds of the same panel;
* InfluxQL stays portable across 1.x, 2.x and 3.x: no ``INTO``, no ``SLIMIT``; a subquery
  (which all three run) has its own ``$timeFilter``, as every ``SELECT`` does;
* every ``$variable`` used anywhere is defined (or a Grafana built-in), and a variable refers
  only to variables defined before it (Grafana resolves chains in list order).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dashboards.influxql import DATASOURCE_TYPE, DATASOURCE_VARIABLE
from dashboards.queries import BUILTINS, iter_panels, variable_refs

__all__ = ["GRID_COLUMNS", "PANEL_TYPES", "check_dashboard"]

GRID_COLUMNS = 24
PANEL_TYPES = frozenset({"stat", "timeseries", "piechart", "barchart", "geomap", "table"})
REQUIRED_KEYS = ("uid", "title", "tags", "timezone", "time", "templating", "panels")
RESULT_FORMATS = frozenset({"time_series", "table"})
_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_NOT_PORTABLE = (
    (re.compile(r"\bINTO\b", re.IGNORECASE), "INTO (2.x and 3.x reject it)"),
    (re.compile(r"\bSLIMIT\b|\bSOFFSET\b", re.IGNORECASE), "SLIMIT/SOFFSET (not in 3.x)"),
)
_EXPR_REF = re.compile(r"\$\{?([A-Za-z0-9_]+)\}?")
_SELECT = re.compile(r"\bSELECT\b", re.IGNORECASE)


def _bilingual(text: str) -> bool:
    return bool(_CJK.search(text)) and bool(_LATIN.search(text))


def _check_influxql(where: str, target: Mapping[str, Any], errors: list[str]) -> None:
    query = target.get("query")
    if target.get("rawQuery") is not True or not isinstance(query, str) or not query.strip():
        errors.append(f"{where}: not a raw InfluxQL query")
        return
    if "$timeFilter" not in query:
        errors.append(f"{where}: no $timeFilter (would scan all history)")
    elif query.count("$timeFilter") < len(_SELECT.findall(query)):
        errors.append(f"{where}: a subquery without its own $timeFilter (would scan all history)")
    if target.get("resultFormat") not in RESULT_FORMATS:
        errors.append(f"{where}: resultFormat {target.get('resultFormat')!r}")
    source = target.get("datasource") or {}
    if source.get("type") != DATASOURCE_TYPE or source.get("uid") != f"${{{DATASOURCE_VARIABLE}}}":
        errors.append(f"{where}: datasource {source!r} is not the ${DATASOURCE_VARIABLE} variable")
    for pattern, why in _NOT_PORTABLE:
        if pattern.search(query):
            errors.append(f"{where}: {why}")


def _check_panel(panel: Mapping[str, Any], errors: list[str]) -> set[str]:
    name = f"panel {panel.get('id')} {panel.get('title')!r}"
    used: set[str] = set()
    if panel.get("type") not in PANEL_TYPES:
        errors.append(f"{name}: type {panel.get('type')!r} not in {sorted(PANEL_TYPES)}")
    if not _bilingual(panel.get("title", "")):
        errors.append(f"{name}: title must be Chinese and English")
    if not panel.get("description"):
        errors.append(f"{name}: no description (what the panel shows, for the ops team)")
    if not (panel.get("fieldConfig") or {}).get("defaults", {}).get("unit"):
        errors.append(f"{name}: no unit")
    targets = panel.get("targets") or []
    if not targets:
        errors.append(f"{name}: no query")
    ref_ids = [t.get("refId") for t in targets]
    if len(set(ref_ids)) != len(ref_ids):
        errors.append(f"{name}: duplicate refId in {ref_ids}")
    for target in targets:
        where = f"{name} target {target.get('refId')}"
        if (target.get("datasource") or {}).get("type") == "__expr__":
            if target.get("type") != "math":
                errors.append(f"{where}: only math expressions are used")
            for ref in _EXPR_REF.findall(target.get("expression", "")):
                if ref not in ref_ids:
                    errors.append(f"{where}: expression refers to unknown ${ref}")
            continue
        _check_influxql(where, target, errors)
        used |= variable_refs(target.get("query", ""))
    used |= variable_refs(panel.get("title", ""))
    used |= variable_refs(str((panel.get("datasource") or {}).get("uid", "")))
    return used


def _check_grid(panels: Sequence[Mapping[str, Any]], errors: list[str]) -> None:
    cells: dict[tuple[int, int], object] = {}
    for panel in panels:
        grid = panel.get("gridPos") or {}
        numbers = [grid.get(k) for k in ("x", "y", "w", "h")]
        name = f"panel {panel.get('id')} {panel.get('title')!r}"
        if not all(isinstance(n, int) for n in numbers):
            errors.append(f"{name}: gridPos {grid!r} incomplete")
            continue
        x, y, w, h = (int(n) for n in numbers if isinstance(n, int))
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > GRID_COLUMNS:
            errors.append(f"{name}: gridPos {grid!r} outside {GRID_COLUMNS} columns")
            continue
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                if (cx, cy) in cells:
                    errors.append(f"{name}: overlaps panel {cells[(cx, cy)]!r}")
                    break
                cells[(cx, cy)] = panel.get("title")
            else:
                continue
            break


def _check_variables(variables: list[Mapping[str, Any]], used: set[str], errors: list[str]) -> None:
    defined: set[str] = set()
    for variable in variables:
        name = variable.get("name", "")
        refs = variable_refs(str(variable.get("query", ""))) | variable_refs(
            str((variable.get("datasource") or {}).get("uid", ""))
        )
        for ref in sorted(refs - defined - BUILTINS):
            errors.append(f"variable {name!r}: refers to ${ref}, not defined before it")
        if not _bilingual(variable.get("label", "")):
            errors.append(f"variable {name!r}: label must be Chinese and English")
        defined.add(name)
    if DATASOURCE_VARIABLE not in defined:
        errors.append(f"no ${DATASOURCE_VARIABLE} variable")
    for ref in sorted(used - defined - BUILTINS):
        errors.append(f"${ref} is used but not defined")


def check_dashboard(dashboard: Mapping[str, Any]) -> list[str]:
    """Every violation of the contract in one dashboard's JSON; empty when it passes."""
    errors = [f"missing key {key!r}" for key in REQUIRED_KEYS if key not in dashboard]
    if errors:
        return errors
    if not _UID.match(str(dashboard["uid"])):
        errors.append(f"uid {dashboard['uid']!r} is not 1-40 of [A-Za-z0-9_-]")
    if not _bilingual(dashboard["title"]):
        errors.append("title must be Chinese and English")
    if dashboard["timezone"] != "Asia/Shanghai":
        errors.append(f"timezone {dashboard['timezone']!r}: Ningbo reads Beijing time")
    panels = list(iter_panels(dashboard))
    if not panels:
        errors.append("no panels")
    ids = [p.get("id") for p in panels]
    if None in ids or len(set(ids)) != len(ids):
        errors.append(f"panel ids missing or repeated: {ids}")
    used: set[str] = set()
    for panel in panels:
        used |= _check_panel(panel, errors)
    _check_grid(panels, errors)
    _check_variables(dashboard["templating"].get("list", []), used, errors)
    return errors
