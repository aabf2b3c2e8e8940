"""The vendor scorecard as a table for people without Grafana, from the dashboard's own queries.

``cityiot vendors report`` runs the queries of two panels of the Vendor scorecard dashboard
(``dashboards/boards/vendors.py``, which says how each figure stays exact): "Vendor scorecard"
(one row per vendor, after the panel's own transformations) and "Rejections by reason". This
module finds those panels in the built dashboard and turns their results into a
:class:`VendorReport`, as text or JSON; it runs no query itself (the command does, through
``dashboards.influx.run_panel``), so the figures are the dashboard's by construction.

A reason's rate has the scorecard's denominator: the messages the collectors received from the
vendor that were no redelivery, i.e. messages + late + rejected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboards.boards import vendors
from dashboards.boards.vendors import SCORECARD_COLUMNS
from dashboards.build import build_one
from dashboards.influx import PanelData
from dashboards.queries import iter_panels
from dashboards.transforms import shown_tables

__all__ = [
    "REASONS_TITLE",
    "SCORECARD_TITLE",
    "ReasonCount",
    "ScorecardPanels",
    "VendorReport",
    "VendorRow",
    "build_report",
    "report_json",
    "report_text",
    "scorecard_panels",
]

# The panels' English titles (each panel is titled "中文 / English").
SCORECARD_TITLE = "Vendor scorecard"
REASONS_TITLE = "Rejections by reason"
# Columns of the "Rejections by reason" query as InfluxDB returns them (before Grafana renames).
_REASON_COLUMNS = ("vendor", "reason", "rejected")
_MISSING = "-"


@dataclass(frozen=True)
class ScorecardPanels:
    """The two panels the report reads, as built (Grafana JSON), and the dashboard's timezone."""

    scorecard: dict[str, Any]
    reasons: dict[str, Any]
    timezone: str


def scorecard_panels() -> ScorecardPanels:
    """The Vendor scorecard dashboard's scorecard and reasons panels, built from code."""
    board = build_one(vendors.BOARD)
    by_title = {p["title"].split(" / ")[-1]: p for p in iter_panels(board)}
    return ScorecardPanels(by_title[SCORECARD_TITLE], by_title[REASONS_TITLE], board["timezone"])


@dataclass(frozen=True)
class ReasonCount:
    """One reject code of a vendor: its dead letters and their share of what it sent."""

    reason: str
    rejected: int
    rate: float | None  # None when the vendor sent nothing countable


@dataclass(frozen=True)
class VendorRow:
    """One vendor's scorecard row; counts are 0 (not None) when nothing happened."""

    vendor: str
    messages: int
    rejected: int
    rejection_rate: float | None
    top_reason: str | None
    reasons: tuple[ReasonCount, ...]
    seq_gaps: int
    reboots: int
    late: int
    skew_p50_ms: float | None
    skew_p99_ms: float | None
    silent_devices: int

    @property
    def received(self) -> int:
        """Messages received that were no redelivery: the rejection rate's denominator."""
        return self.messages + self.late + self.rejected


@dataclass(frozen=True)
class VendorReport:
    """The scorecard over ``[start, end]``: rows by rejection rate, highest first."""

    start: datetime
    end: datetime
    rows: tuple[VendorRow, ...]


def _count(value: Any) -> int:
    # The panel shows an empty count as 0 (zero_when_empty); sums of counts come back as floats.
    return 0 if value is None else round(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _reason_rows(reasons: PanelData) -> dict[str, dict[str, int]]:
    """vendor → reason → dead letters, from the reasons panel's one table per series."""
    out: dict[str, dict[str, int]] = {}
    for table in reasons.tables:
        at = [table.columns.index(c) for c in _REASON_COLUMNS]
        for row in table.rows:
            vendor, reason, rejected = (row[i] for i in at)
            counts = out.setdefault(vendor, {})
            counts[reason] = counts.get(reason, 0) + _count(rejected)
    return out


def _row(cells: Mapping[str, Any], reasons: Mapping[str, int]) -> VendorRow:
    messages, rejected, late = (_count(cells[c]) for c in ("messages", "rejected", "late"))
    received = messages + late + rejected
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    return VendorRow(
        vendor=cells["vendor"],
        messages=messages,
        rejected=rejected,
        rejection_rate=_float(cells["rejection_rate"]),
        top_reason=cells["reason"],
        reasons=tuple(
            ReasonCount(reason, n, n / received if received else None) for reason, n in ranked
        ),
        seq_gaps=_count(cells["gaps"]),
        reboots=_count(cells["reboots"]),
        late=late,
        skew_p50_ms=_float(cells["skew_p50"]),
        skew_p99_ms=_float(cells["skew_p99"]),
        silent_devices=_count(cells["silent"]),
    )


def build_report(
    panels: ScorecardPanels,
    scorecard: PanelData,
    reasons: PanelData,
    *,
    start: datetime,
    end: datetime,
) -> VendorReport:
    """The report from the two panels' query results (``run_panel``'s answers).

    The scorecard's cells are what Grafana shows after the panel's transformations
    (``shown_tables``), named by :data:`SCORECARD_COLUMNS`' keys.
    """
    tables = shown_tables(panels.scorecard, scorecard)
    by_reason = _reason_rows(reasons)
    rows = [
        _row(dict(zip(SCORECARD_COLUMNS, raw, strict=True)), by_reason.get(raw[0], {}))
        for table in tables
        for raw in table.rows
    ]
    # As the panel sorts them: highest rejection rate first; ties (and no rate) by name.
    rows.sort(key=lambda r: (-(r.rejection_rate or 0.0), r.rejection_rate is None, r.vendor))
    return VendorReport(start=start, end=end, rows=tuple(rows))


# -- output ------------------------------------------------------------------------------------


def _percent(rate: float | None) -> str:
    return _MISSING if rate is None else f"{rate * 100:.2f}%"


def _ms(value: float | None) -> str:
    return _MISSING if value is None else f"{value:.1f}"


def _span(start: datetime, end: datetime) -> str:
    """``1d``, ``6h``, ``30m``: the span in its largest whole unit, as ``--since`` takes it."""
    seconds = round((end - start).total_seconds())
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_HEADERS = (
    ("vendor", "<"),
    ("messages", ">"),
    ("rejected", ">"),
    ("rate", ">"),
    ("top reason", "<"),
    ("seq gaps", ">"),
    ("reboots", ">"),
    ("late", ">"),
    ("skew p50 ms", ">"),
    ("skew p99 ms", ">"),
    ("silent", ">"),
)


def _cells(row: VendorRow) -> tuple[str, ...]:
    return (
        row.vendor,
        str(row.messages),
        str(row.rejected),
        _percent(row.rejection_rate),
        row.top_reason or _MISSING,
        str(row.seq_gaps),
        str(row.reboots),
        str(row.late),
        _ms(row.skew_p50_ms),
        _ms(row.skew_p99_ms),
        str(row.silent_devices),
    )


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADERS))]
    return [
        "  ".join(
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(row, _HEADERS, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


def report_text(report: VendorReport) -> str:
    """The table as printed: a title line, one line per vendor, then its reasons."""
    start, end = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in (report.start, report.end))
    lines = [f"vendor scorecard {start} .. {end} (last {_span(report.start, report.end)})"]
    if not report.rows:
        lines.append("no vendor data in this range")
        return "\n".join(lines)
    lines += _table([tuple(h for h, _ in _HEADERS), *(_cells(r) for r in report.rows)])
    rejecting = [r for r in report.rows if r.reasons]
    if rejecting:
        lines.append("")
        lines.append("rejected by reason (share of the vendor's messages):")
        for row in rejecting:
            parts = ", ".join(f"{c.reason} {c.rejected} ({_percent(c.rate)})" for c in row.reasons)
            lines.append(f"  {row.vendor}: {parts}")
    return "\n".join(lines)


def report_json(report: VendorReport) -> dict[str, Any]:
    """The report as JSON: times in ISO 8601, rates as fractions, null where there is none."""
    return {
        "since": report.start.isoformat(),
        "until": report.end.isoformat(),
        "vendors": [
            {
                "vendor": r.vendor,
                "messages": r.messages,
                "rejected": r.rejected,
                "rejection_rate": r.rejection_rate,
                "top_reason": r.top_reason,
                "rejected_by_reason": [
                    {"reason": c.reason, "rejected": c.rejected, "rate": c.rate} for c in r.reasons
                ],
                "seq_gaps": r.seq_gaps,
                "reboots": r.reboots,
                "late": r.late,
                "clock_skew_p50_ms": r.skew_p50_ms,
                "clock_skew_p99_ms": r.skew_p99_ms,
                "silent_devices": r.silent_devices,
            }
            for r in report.rows
        ],
    }
