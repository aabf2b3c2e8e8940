"""Every panel's queries, expanded as Grafana would, run on the real InfluxDB and return data."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboards_data import alert_lines, contract_lines

from cityiot.local.runner import LocalServers
from dashboards.build import build_all
from dashboards.influx import InfluxTarget, run_panel
from dashboards.queries import TimeRange, iter_panels
from dashboards.snapshot import render_snapshots
from dashboards.variables import ALL
from simulator.fleet import build_fleet

pytestmark = pytest.mark.integration

BUILT = build_all()
PANELS = [(uid, panel) for uid, board in BUILT.items() for panel in iter_panels(board)]
# 120 devices: every facility, asset type and district appears at least once (seed checked).
FLEET = build_fleet(120, seed=11, locator=None)
ALL_VALUES = {"datasource": "cityiot-influxdb", "district": ALL, "facility": ALL, "vendor": ALL}


def _post(url: str, data: bytes) -> None:
    request = urllib.request.Request(url, data=data, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 204)


@pytest.fixture(scope="module")
def influx(local_servers: LocalServers) -> Iterator[InfluxTarget]:
    """A database of its own holding 40 minutes of the measurement contract, ending now."""
    database = f"dashboards_{datetime.now(UTC):%H%M%S%f}"
    base = local_servers.influxdb_url
    _post(f"{base}/query?" + urllib.parse.urlencode({"q": f'CREATE DATABASE "{database}"'}), b"")
    now = datetime.now(UTC)
    _post(
        f"{base}/write?" + urllib.parse.urlencode({"db": database, "precision": "ns"}),
        "\n".join(alert_lines(FLEET, now=now)).encode(),
    )
    lines = list(contract_lines(FLEET, now=now))
    for start in range(0, len(lines), 5000):
        _post(
            f"{base}/write?" + urllib.parse.urlencode({"db": database, "precision": "ms"}),
            "\n".join(lines[start : start + 5000]).encode(),
        )
    yield InfluxTarget(url=base, database=database)
    _post(f"{base}/query?" + urllib.parse.urlencode({"q": f'DROP DATABASE "{database}"'}), b"")


def _run(panel: dict[str, Any], target: InfluxTarget, variables: dict[str, str]) -> Any:
    board = next(b for b in BUILT.values() if panel in list(iter_panels(b)))
    return run_panel(
        panel,
        target,
        dashboard_range=TimeRange.last(timedelta(hours=6), now=datetime.now(UTC)),
        timezone=board["timezone"],
        variables=variables,
    )


@pytest.mark.parametrize(
    ("uid", "panel"),
    PANELS,
    ids=[f"{uid}/{p['id']}-{p['title'].split(' / ')[1]}" for uid, p in PANELS],
)
def test_panel_returns_data(influx: InfluxTarget, uid: str, panel: dict[str, Any]) -> None:
    """The panel's queries run without error and Grafana would not show "No data"."""
    data = _run(panel, influx, ALL_VALUES)
    assert not data.blank(), f"{uid} panel {panel['title']!r} is blank"


def test_panel_district_filter_narrows(influx: InfluxTarget) -> None:
    """Choosing one district gives less than the whole city, and more than nothing."""
    panel = next(p for p in iter_panels(BUILT["cityiot-overview"]) if "Sales today" in p["title"])
    city = _run(panel, influx, ALL_VALUES).series[0].values[0]
    district = FLEET.devices[0].district
    one = _run(panel, influx, {**ALL_VALUES, "district": district}).series[0].values[0]
    assert 0 < one < city


def test_vendor_variable_lists_vendors(influx: InfluxTarget) -> None:
    """The chained vendor variable's query returns the fleet's vendors of the chosen facility."""
    variable = next(
        v for v in BUILT["cityiot-health"]["templating"]["list"] if v["name"] == "vendor"
    )
    text = variable["query"].replace("$district", ALL).replace("$facility", "recycling")
    values = {row[1] for s in influx.query(text) for row in s["values"]}
    expected = {d.vendor for d in FLEET.devices if d.facility.value == "recycling"}
    assert values == expected


def test_snapshot_renders_png(influx: InfluxTarget, tmp_path: Path) -> None:
    """snapshot draws a PNG per dashboard from the same queries (stats, series, bars, map)."""
    uids = ["cityiot-overview", "cityiot-mobility"]
    paths = render_snapshots(influx, tmp_path, uids=uids)
    assert [p.name for p in paths] == [f"{uid}.png" for uid in uids]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 30_000  # a blank figure is ~10 kB
