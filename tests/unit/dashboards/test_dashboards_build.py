"""Built dashboards keep their contract, round-trip through the SDK, and match provisioning."""

# ruff: noqa: S608 -- InfluxQL built from this module's constants; no outside input reaches it.

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cityiot.cli.dashboards import app
from dashboards.boards.common import FOLDERS
from dashboards.build import BOARDS, FOLDERS_FILE, build_all, round_trip, write_dashboards
from dashboards.contract import check_dashboard
from dashboards.influxql import DATASOURCE_UID
from dashboards.queries import TimeRange, expand, interval_for, iter_panels, panel_range
from dashboards.snapshot import _label

BUILT = build_all()
UIDS = list(BUILT)
PROVISIONING = Path(__file__).parents[3] / "deploy" / "grafana" / "provisioning"


def _first_influxql(board: dict[str, Any]) -> dict[str, Any]:
    return next(t for p in iter_panels(board) for t in p["targets"] if t.get("rawQuery") is True)


@pytest.mark.parametrize("uid", UIDS)
def test_dashboard_contract_passes(uid: str) -> None:
    """Every built dashboard passes the whole contract."""
    assert check_dashboard(BUILT[uid]) == []


@pytest.mark.parametrize("uid", UIDS)
def test_dashboard_round_trip_exact(uid: str) -> None:
    """to_json(from_json(d)) == d: no key the SDK (or the InfluxQL type) does not know."""
    assert round_trip(BUILT[uid]) == BUILT[uid]


def test_round_trip_catches_misspelled_query_key() -> None:
    """A misspelt target key is dropped by from_json, so the round trip shows it."""
    board = copy.deepcopy(BUILT["cityiot-overview"])
    _first_influxql(board)["resultFromat"] = "table"
    assert round_trip(board) != board


def test_dashboards_cover_the_required_set() -> None:
    """Overview, vending, recycling, mobility, stores, transit, health, platform and the vendor
    scorecard, with stable uids."""
    assert UIDS == [
        "cityiot-overview",
        "cityiot-vending",
        "cityiot-recycling",
        "cityiot-mobility",
        "cityiot-store",
        "cityiot-transit",
        "cityiot-health",
        "cityiot-platform",
        "cityiot-vendors",
    ]
    types = {p["type"] for b in BUILT.values() for p in iter_panels(b)}
    assert {"stat", "timeseries", "piechart", "barchart", "geomap", "table"} <= types


def _mutated(change: str) -> list[str]:
    board = copy.deepcopy(BUILT["cityiot-overview"])
    panel = next(iter(iter_panels(board)))
    target = panel["targets"][0]
    if change == "no_time_filter":
        target["query"] = target["query"].replace("$timeFilter", "time > now() - 1h")
    elif change == "subquery_without_time_filter":
        target["query"] = f"SELECT * FROM ({target['query']})"
    elif change == "undefined_variable":
        target["query"] += ' AND "device" =~ /^$device$/'
    elif change == "grid_overflow":
        panel["gridPos"]["x"] = 22
    elif change == "overlap":
        panel["gridPos"]["y"] = 4
    elif change == "english_only":
        panel["title"] = "Sales"
    elif change == "no_unit":
        del panel["fieldConfig"]["defaults"]["unit"]
    elif change == "chain_order":
        board["templating"]["list"].reverse()
    return check_dashboard(board)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no_time_filter", "no $timeFilter"),
        ("subquery_without_time_filter", "subquery without its own $timeFilter"),
        ("undefined_variable", "$device is used but not defined"),
        ("grid_overflow", "outside 24 columns"),
        ("overlap", "overlaps"),
        ("english_only", "Chinese and English"),
        ("no_unit", "no unit"),
        ("chain_order", "not defined before it"),
    ],
    ids=lambda v: str(v),
)
def test_contract_rejects_violation(change: str, message: str) -> None:
    """Each kind of violation is reported with a message that names it."""
    errors = _mutated(change)
    assert any(message in e for e in errors), errors


def test_expand_like_grafana() -> None:
    """$timeFilter becomes a ms range, $__interval a duration, All a match-everything regex."""
    start = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    text = expand(
        'SELECT sum("x") / ($__interval_ms / 60000) FROM m WHERE $timeFilter AND '
        '"district" =~ /^$district$/ GROUP BY time($__interval)',
        time_range=TimeRange(start, start + timedelta(hours=1)),
        interval=timedelta(minutes=5),
        variables={"district": ".*"},
    )
    assert text == (
        'SELECT sum("x") / (300000 / 60000) FROM m WHERE time >= 1777593600000ms and '
        'time <= 1777597200000ms AND "district" =~ /^.*$/ GROUP BY time(5m)'
    )


def test_panel_range_today_starts_at_beijing_midnight() -> None:
    """timeFrom now/d starts at 00:00 Asia/Shanghai, i.e. 16:00 UTC the day before."""
    now = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)  # 11:00 in Ningbo
    got = panel_range(
        {"timeFrom": "now/d"}, TimeRange.last(timedelta(hours=6), now=now), timezone="Asia/Shanghai"
    )
    assert got.start == datetime(2026, 4, 30, 16, 0, tzinfo=UTC)


def test_interval_never_finer_than_rollups() -> None:
    """A short range still gets 1-minute buckets; a long one a coarser nice step."""
    assert interval_for(timedelta(minutes=30), "1m") == timedelta(minutes=1)
    assert interval_for(timedelta(days=7), "1m") == timedelta(hours=1)


def test_write_dashboards_folder_layout(tmp_path: Path) -> None:
    """build writes <folder uid>/<uid>.json for every board and the folders index."""
    paths = write_dashboards(tmp_path)
    for board in BOARDS:
        data = json.loads((tmp_path / board.folder.uid / f"{board.uid}.json").read_text())
        assert data["uid"] == board.uid
    assert json.loads((tmp_path / FOLDERS_FILE).read_text()) == {
        f.uid: f.title for f in FOLDERS.values()
    }
    assert len(paths) == len(BOARDS) + 1


def test_provisioning_providers_match_folders() -> None:
    """One provider per folder, with the uid and title push uses, reading the build layout."""
    spec = yaml.safe_load((PROVISIONING / "dashboards" / "cityiot.yaml").read_text())
    providers = {p["folderUid"]: p for p in spec["providers"]}
    assert set(providers) == {f.uid for f in FOLDERS.values()}
    for folder in FOLDERS.values():
        assert providers[folder.uid]["folder"] == folder.title
        assert providers[folder.uid]["options"]["path"].endswith(f"/{folder.uid}")


def test_provisioning_datasource_fixed_uid_influxql() -> None:
    """The datasource has the fixed uid the dashboards default to, and jsonData.dbName."""
    spec = yaml.safe_load((PROVISIONING / "datasources" / "cityiot.yaml").read_text())
    (source,) = spec["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == "influxdb"
    assert "dbName" in source["jsonData"]
    assert "database" not in source["jsonData"]


def test_contract_accepts_subquery_with_its_own_time_filter() -> None:
    """A subquery (InfluxDB 1.x, 2.x and 3.x run them) passes when every SELECT has its
    $timeFilter."""
    board = copy.deepcopy(BUILT["cityiot-overview"])
    target = _first_influxql(board)
    target["query"] = f"SELECT * FROM ({target['query']}) WHERE $timeFilter"
    assert check_dashboard(board) == []


def test_cli_build_writes_json(tmp_path: Path) -> None:
    """``cityiot dashboards build DIR`` prints the files it wrote, one per dashboard and the
    folders index."""
    result = CliRunner().invoke(app, ["build", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"{tmp_path}/cityiot-operations/cityiot-overview.json" in result.output
    assert f"{tmp_path}/cityiot-platform/cityiot-vendors.json" in result.output
    assert len(result.output.splitlines()) == len(BOARDS) + 1 == 10


@pytest.mark.parametrize(
    ("text", "cjk", "expected"),
    [
        ("今日销售额 / Sales today", False, "Sales today"),
        ("海曙区 Haishu", False, "Haishu"),
        ("今日销售额 / Sales today", True, "今日销售额 / Sales today"),
    ],
)
def test_snapshot_label_without_cjk_font(text: str, cjk: bool, expected: str) -> None:
    """Without a CJK font the English half is drawn instead of empty boxes."""
    assert _label(text, cjk) == expected
