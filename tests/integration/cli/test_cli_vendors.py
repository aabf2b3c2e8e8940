"""``cityiot vendors report`` as a process, reading the session's real InfluxDB.

The data is the dashboards' query tests' own (``tests/integration/dashboards/dashboards_data.py``):
a simulated fleet through the collector core and the streams core, with loss at the source, a
late message and slow clocks, written through InfluxDB's real ``/write``. Its run counted, per
vendor, what the collector accepted and rejected and what the streams state held at each health
tick: the report must show exactly those figures.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_support import cityiot_env, run_cityiot

from cityiot.local.runner import LocalServers
from core.influx import InfluxTarget, V1Writer, quote_identifier
from schemas import DistrictIndex
from simulator.fleet import build_fleet

# dashboards_data lives beside the dashboards' query tests (a test folder, not a package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboards"))
from dashboards_data import LOST, SKEW, PipelineRun, pipeline_lines

pytestmark = pytest.mark.integration

# The data's 40 minutes end when the module starts: a day back from the command's now holds
# them whole, whatever the tests before took.
SINCE = "1d"
WRITE_LINES = 5000
# The dashboards' query tests' fleet: every facility, sixteen vendors, two last-will devices.
DEVICES = 120
SEED = 11
WILL_DEVICES = 2
# Skew per device is rounded to the millisecond by streams; its median per vendor stays within.
SKEW_TOLERANCE_MS = 2


@dataclass(frozen=True)
class Data:
    target: InfluxTarget
    run: PipelineRun


async def _write(target: InfluxTarget, lines: list[str]) -> None:
    writer = V1Writer(target)
    await writer.start()  # creates the database
    try:
        for first in range(0, len(lines), WRITE_LINES):
            await writer.write(lines[first : first + WRITE_LINES])
    finally:
        await writer.close()


@pytest.fixture(scope="module")
def data(local_servers: LocalServers) -> Iterator[Data]:
    """A database of its own holding the pipeline's output, ending now."""
    locator = DistrictIndex.load()
    fleet = build_fleet(DEVICES, seed=SEED, locator=locator, will_devices=WILL_DEVICES)
    run = pipeline_lines(fleet, locator, now=datetime.now(UTC))
    target = InfluxTarget(
        url=local_servers.influxdb_url, database=f"vendors_{datetime.now(UTC):%H%M%S%f}"
    )
    asyncio.run(_write(target, run.lines))
    yield Data(target, run)
    target.execute(f"DROP DATABASE {quote_identifier(target.database)}")


def _report(data: Data, tmp_path: Path, *args: str) -> str:
    env = cityiot_env(
        tmp_path,
        CITYIOT_INFLUXDB_URL=data.target.url,
        CITYIOT_INFLUXDB_DATABASE=data.target.database,
    )
    result = run_cityiot(["vendors", "report", "--since", SINCE, *args], env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def _rows(data: Data, tmp_path: Path) -> dict[str, dict[str, Any]]:
    report = json.loads(_report(data, tmp_path, "--json"))
    return {row["vendor"]: row for row in report["vendors"]}


def test_cli_vendors_report_equals_the_pipeline(data: Data, tmp_path: Path) -> None:
    """Per vendor: messages are the events the collector accepted on time, rejected its dead
    letters (by reason adding up, each reason's rate over the same denominator), gaps, reboots
    and late what the streams state counted from the first health tick, silent the devices
    found offline at a tick."""
    run = data.run
    rows = _rows(data, tmp_path)
    assert set(rows) == set(run.messages) | set(run.rejected)
    for vendor, row in rows.items():
        messages, rejected, late = run.messages[vendor], run.rejected[vendor], run.late[vendor]
        received = messages + late + rejected
        assert (row["messages"], row["rejected"]) == (messages, rejected), vendor
        assert row["rejection_rate"] == pytest.approx(rejected / received), vendor
        first = run.first_counters.get(vendor, (0, 0, 0))
        last = run.last_counters.get(vendor, (0, 0, 0))
        changed = [b - a for a, b in zip(first, last, strict=True)]
        assert [row["seq_gaps"], row["reboots"], row["late"]] == changed, vendor
        assert row["silent_devices"] == len(run.silent.get(vendor, ())), vendor
        reasons = row["rejected_by_reason"]
        assert sum(r["rejected"] for r in reasons) == rejected, vendor
        for reason in reasons:
            assert reason["rate"] == pytest.approx(reason["rejected"] / received), vendor
        if reasons:
            assert reasons[0]["rejected"] == max(r["rejected"] for r in reasons), vendor
            top = {r["reason"] for r in reasons if r["rejected"] == reasons[0]["rejected"]}
            assert row["top_reason"] in top, vendor
        else:
            assert row["top_reason"] is None, vendor
    rates = [row["rejection_rate"] for row in rows.values()]
    assert rates == sorted(rates, reverse=True)


def test_cli_vendors_report_shows_loss_lateness_and_skew(data: Data, tmp_path: Path) -> None:
    """The delivery's faults are on their vendor's row and nowhere else: the lost messages as
    seq gaps, the held message as late, the slow clocks as skew p50."""
    run = data.run
    rows = _rows(data, tmp_path)
    ((lost_vendor, lost),) = run.lost.items()
    ((late_vendor, late),) = run.late.items()
    assert (lost, late) == (LOST, 1)
    assert {v: r["seq_gaps"] for v, r in rows.items() if r["seq_gaps"]} == {lost_vendor: LOST}
    assert {v: r["late"] for v, r in rows.items() if r["late"]} == {late_vendor: 1}
    skew_ms = SKEW.total_seconds() * 1000
    assert rows[run.skew_vendor]["clock_skew_p50_ms"] == pytest.approx(
        skew_ms, abs=SKEW_TOLERANCE_MS
    )
    others = [r["clock_skew_p50_ms"] for v, r in rows.items() if v != run.skew_vendor]
    assert all(abs(p50) <= SKEW_TOLERANCE_MS for p50 in others if p50 is not None)


def test_cli_vendors_report_text_has_a_line_per_vendor(data: Data, tmp_path: Path) -> None:
    """The text table: a title naming the span, a header, one line per vendor with the JSON's
    figures in the header's order, then each rejecting vendor's reasons."""
    rows = _rows(data, tmp_path)
    title, header, *body = _report(data, tmp_path).splitlines()
    assert title.startswith("vendor scorecard ")
    assert title.endswith(f" (last {SINCE})")
    assert re.split(r"\s{2,}", header) == [
        "vendor",
        "messages",
        "rejected",
        "rate",
        "top reason",
        "seq gaps",
        "reboots",
        "late",
        "skew p50 ms",
        "skew p99 ms",
        "silent",
    ]
    lines = {line.split()[0]: line.split() for line in body[: len(rows)]}
    assert set(lines) == set(rows)
    for vendor, cells in lines.items():
        row = rows[vendor]
        rate = f"{row['rejection_rate'] * 100:.2f}%"
        counts = [row[k] for k in ("seq_gaps", "reboots", "late")]
        top = row["top_reason"] or "-"
        assert cells[1:5] == [str(row["messages"]), str(row["rejected"]), rate, top]
        assert cells[5:8] == [str(n) for n in counts]
        assert cells[-1] == str(row["silent_devices"])
    reasons = body[len(rows) :]
    assert reasons[:2] == ["", "rejected by reason (share of the vendor's messages):"]
    listed = {line.split(":")[0].strip() for line in reasons[2:]}
    assert listed == {v for v, r in rows.items() if r["rejected"]}
