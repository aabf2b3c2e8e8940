"""Grafana's table transformations as redone for snapshots and tests (dashboards/transforms.py)."""

from __future__ import annotations

from typing import Any

import pytest

from dashboards.boards.vendors import ROLLUP_KINDS
from dashboards.influx import FRAME_TIME, Table
from dashboards.transforms import apply, binary, merge, organize, row_sum
from streams.measurements import MEASUREMENTS

T0 = 1_777_593_600_000


def _json(*steps: Any) -> list[dict[str, Any]]:
    return [step.to_json() for step in steps]


def test_merge_joins_frames_on_shared_columns() -> None:
    """Rows of different queries with the same Time and tag become one row; a tag value only
    one query has keeps its own row, the other columns empty."""
    frames = [
        Table([FRAME_TIME, "vendor", "messages"], [[T0, "a", 10], [T0, "b", 20]]),
        Table([FRAME_TIME, "vendor", "rejected"], [[T0, "a", 1], [T0, "z", 3]]),
    ]
    (merged,) = apply(_json(merge()), frames)
    assert merged.columns == [FRAME_TIME, "vendor", "messages", "rejected"]
    assert merged.rows == [[T0, "a", 10, 1], [T0, "b", 20, None], [T0, "z", None, 3]]


def test_merge_keeps_rows_whose_values_differ() -> None:
    """Two rows of one key with different values stay two rows (Grafana's isMergable), and a
    later frame's row merges into both."""
    frames = [
        Table([FRAME_TIME, "vendor", "n"], [[T0, "a", 1], [T0, "a", 2]]),
        Table([FRAME_TIME, "vendor", "m"], [[T0, "a", 7]]),
    ]
    (merged,) = apply(_json(merge()), frames)
    assert merged.rows == [[T0, "a", 1, 7], [T0, "a", 2, 7]]


def test_calculate_field_sums_rows_and_divides_with_nulls_as_zero() -> None:
    """Row sum of named columns (a missing one is 0); a binary division where a null numerator
    is 0 (JavaScript arithmetic) and a zero denominator gives no number."""
    frame = Table(["vendor", "x", "y", "bad"], [["a", 3, None, 1], ["b", None, None, None]])
    steps = _json(
        row_sum("total", ["x", "y", "bad", "absent"]), binary("rate", "bad", "/", "total")
    )
    (out,) = apply(steps, [frame])
    assert out.columns == ["vendor", "x", "y", "bad", "total", "rate"]
    assert [row[4:] for row in out.rows] == [[4.0, 0.25], [0.0, None]]


def test_organize_hides_orders_and_renames() -> None:
    """Hidden columns go, listed ones come first in their order, renamed."""
    frame = Table([FRAME_TIME, "b", "a", "c"], [[T0, 2, 1, 3]])
    steps = _json(organize(["a", "b"], {"a": "甲 A"}, hide=[FRAME_TIME]))
    (out,) = apply(steps, [frame])
    assert (out.columns, out.rows) == (["甲 A", "b", "c"], [[1, 2, 3]])


def test_unknown_transformation_raises() -> None:
    """A transformation this module does not redo fails instead of drawing something else."""
    with pytest.raises(ValueError, match="reduce"):
        apply([{"id": "reduce", "options": {}}], [Table(["x"], [[1]])])


def test_binary_refuses_unknown_operator() -> None:
    """Only Grafana's + - * / are built."""
    with pytest.raises(ValueError, match="%"):
        binary("r", "a", "%", "b")


def test_scorecard_rollup_kinds_are_streams_rollups() -> None:
    """The scorecard counts messages over exactly the kinds streams rolls up."""
    assert set(ROLLUP_KINDS) == {kind for kind, m in MEASUREMENTS.items() if m.rollup}
