"""``cityiot vendors report`` without data: its panels, its text and JSON, its bad input.

The figures themselves are checked against the real InfluxDB in
``tests/integration/cli/test_cli_vendors.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cityiot.vendor_report import (
    ReasonCount,
    VendorReport,
    VendorRow,
    report_json,
    report_text,
    scorecard_panels,
)

SECRET = "pa55-DO-NOT-ECHO"
END = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _row(vendor: str, *, messages: int, reasons: dict[str, int], late: int = 0) -> VendorRow:
    rejected = sum(reasons.values())
    received = messages + late + rejected
    return VendorRow(
        vendor=vendor,
        messages=messages,
        rejected=rejected,
        rejection_rate=rejected / received if received else None,
        top_reason=next(iter(reasons), None),
        reasons=tuple(ReasonCount(r, n, n / received) for r, n in reasons.items()),
        seq_gaps=3,
        reboots=1,
        late=late,
        skew_p50_ms=2000.0 if reasons else None,
        skew_p99_ms=2011.5 if reasons else None,
        silent_devices=0,
    )


REPORT = VendorReport(
    start=END - timedelta(days=1),
    end=END,
    rows=(
        _row("ubox", messages=190, reasons={"bad_json": 8, "invalid_field": 2}),
        _row("aucma", messages=400, reasons={}),
    ),
)


def test_scorecard_panels_are_the_dashboards() -> None:
    """Both panels are found in the built Vendor scorecard dashboard, in Beijing time."""
    panels = scorecard_panels()
    assert panels.scorecard["title"].endswith(" / Vendor scorecard")
    assert panels.reasons["title"].endswith(" / Rejections by reason")
    assert panels.timezone == "Asia/Shanghai"


def test_report_text_rows_and_reasons() -> None:
    """A title naming the span, aligned columns, rates in percent, "-" for no value, then the
    reasons of the vendors that had any, with their share of the vendor's messages."""
    assert report_text(REPORT).splitlines() == [
        "vendor scorecard 2026-04-30T08:00:00Z .. 2026-05-01T08:00:00Z (last 1d)",
        "vendor  messages  rejected   rate  top reason  seq gaps  reboots  late  skew p50 ms"
        "  skew p99 ms  silent",
        "ubox         190        10  5.00%  bad_json           3        1     0       2000.0"
        "       2011.5       0",
        "aucma        400         0  0.00%  -                  3        1     0            -"
        "            -       0",
        "",
        "rejected by reason (share of the vendor's messages):",
        "  ubox: bad_json 8 (4.00%), invalid_field 2 (1.00%)",
    ]


def test_report_text_without_data_says_so() -> None:
    """No vendor in the range: the title and one line saying so."""
    empty = VendorReport(start=END - timedelta(minutes=30), end=END, rows=())
    assert report_text(empty).splitlines()[1:] == ["no vendor data in this range"]
    assert report_text(empty).splitlines()[0].endswith("(last 30m)")


def test_report_json_fields() -> None:
    """JSON: ISO times, rates as fractions, nulls where there is no value."""
    data = report_json(REPORT)
    assert (data["since"], data["until"]) == (
        "2026-04-30T08:00:00+00:00",
        "2026-05-01T08:00:00+00:00",
    )
    ubox, aucma = data["vendors"]
    assert ubox["rejection_rate"] == pytest.approx(0.05)
    assert ubox["rejected_by_reason"] == [
        {"reason": "bad_json", "rejected": 8, "rate": pytest.approx(0.04)},
        {"reason": "invalid_field", "rejected": 2, "rate": pytest.approx(0.01)},
    ]
    assert (aucma["top_reason"], aucma["clock_skew_p50_ms"], aucma["rejected_by_reason"]) == (
        None,
        None,
        [],
    )


def _cityiot(
    tmp_path: Path, argv: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    return subprocess.run(
        [sys.executable, "-m", "cityiot", *argv],
        env={**clean, "CITYIOT_RUN_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("since", ["1x", "yesterday", "0m", "-1d"], ids=str)
def test_cli_vendors_report_bad_since_is_one_line_exit_2(tmp_path: Path, since: str) -> None:
    """A span the option cannot take: one line naming --since, exit 2, no traceback."""
    result = _cityiot(tmp_path, ["vendors", "report", f"--since={since}"], {})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: --since: ")
    assert result.stdout == ""


def test_cli_vendors_report_influxdb_not_answering_is_one_line_exit_1(tmp_path: Path) -> None:
    """An InfluxDB that does not answer: one line naming the URL (password masked) and its
    variable, exit 1, no traceback."""
    with socket.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://admin:{SECRET}@127.0.0.1:{port}"
    result = _cityiot(tmp_path, ["vendors", "report"], {"CITYIOT_INFLUXDB_URL": url})
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: InfluxDB at http://admin:**********@127.0.0.1:{port} ")
    assert "CITYIOT_INFLUXDB_URL" in lines[0]
    assert SECRET not in result.stderr
