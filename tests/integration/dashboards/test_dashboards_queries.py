"""Every panel's queries, expanded as Grafana would, return data from what the pipeline writes.

The data is the pipeline's own output (simulator → collector core → streams core, see
``dashboards_data``) written through InfluxDB's real ``/write``: a panel reading a name streams
does not write comes back blank here, and fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from dashboards_data import LOST, SKEW, PipelineRun, alert_lines, pipeline_lines

from cityiot.local.runner import LocalServers
from collectors.pipeline import Inbound, Pipeline
from core.influx import InfluxTarget, V1Writer, quote_identifier
from dashboards.boards.vendors import SCORECARD_COLUMNS
from dashboards.build import build_all
from dashboards.influx import run_panel
from dashboards.queries import TimeRange, expand, iter_panels
from dashboards.snapshot import render_snapshots
from dashboards.transforms import shown_tables
from dashboards.variables import ALL
from schemas import (
    DeviceRecord,
    DistrictIndex,
    Facility,
    Registry,
    VendingTelemetry,
    encode,
)
from simulator.fleet import build_fleet
from streams.health import health_lines
from streams.processor import BatchResult, Processor

pytestmark = pytest.mark.integration

BUILT = build_all()
PANELS = [(uid, panel) for uid, board in BUILT.items() for panel in iter_panels(board)]
LOCATOR = DistrictIndex.load()
# 120 devices: every facility, asset type and district appears at least once (seed checked);
# two more vending machines that drop off with a last will (the offline panels).
FLEET = build_fleet(120, seed=11, locator=LOCATOR, will_devices=2)
ALL_VALUES = {"datasource": "cityiot-influxdb", "district": ALL, "facility": ALL, "vendor": ALL}
RULES = Path(__file__).parents[3] / "deploy" / "grafana" / "alerting" / "rules.yaml"
BATCH_LINES = 5000


@dataclass(frozen=True)
class Written:
    """The database, the instant the data ends at (queries use it as "now"), and the run."""

    target: InfluxTarget
    now: datetime
    run: PipelineRun


async def _write(target: InfluxTarget, lines: list[str]) -> None:
    writer = V1Writer(target)
    await writer.start()  # creates the database
    try:
        for start in range(0, len(lines), BATCH_LINES):
            await writer.write(lines[start : start + BATCH_LINES])
    finally:
        await writer.close()


@pytest.fixture(scope="module")
def written(local_servers: LocalServers) -> Iterator[Written]:
    """A database of its own holding 40 minutes of pipeline output, ending now."""
    target = InfluxTarget(
        url=local_servers.influxdb_url, database=f"dashboards_{datetime.now(UTC):%H%M%S%f}"
    )
    now = datetime.now(UTC)
    run = pipeline_lines(FLEET, LOCATOR, now=now)
    asyncio.run(_write(target, [*run.lines, *alert_lines(FLEET, now=now)]))
    yield Written(target, now, run)
    target.execute(f"DROP DATABASE {quote_identifier(target.database)}")


@pytest.fixture
def influx(written: Written) -> InfluxTarget:
    return written.target


def _run(panel: dict[str, Any], data: Written, variables: dict[str, str]) -> Any:
    """The panel as Grafana would show it at the instant the data ends (not the clock now:
    the one-minute panels must not depend on how long the tests before took)."""
    board = next(b for b in BUILT.values() if panel in list(iter_panels(b)))
    return run_panel(
        panel,
        data.target,
        dashboard_range=TimeRange.last(timedelta(hours=6), now=data.now),
        timezone=board["timezone"],
        variables=variables,
    )


@pytest.mark.parametrize(
    ("uid", "panel"),
    PANELS,
    ids=[f"{uid}/{p['id']}-{p['title'].split(' / ')[1]}" for uid, p in PANELS],
)
def test_panel_returns_data(written: Written, uid: str, panel: dict[str, Any]) -> None:
    """The panel's queries run without error and Grafana would not show "No data"."""
    data = _run(panel, written, ALL_VALUES)
    assert not data.blank(), f"{uid} panel {panel['title']!r} is blank"


def test_panel_district_filter_narrows(written: Written) -> None:
    """Choosing one district gives less than the whole city, and more than nothing."""
    panel = next(p for p in iter_panels(BUILT["cityiot-overview"]) if "Sales today" in p["title"])
    city = _run(panel, written, ALL_VALUES).series[0].values[0]
    district = FLEET.devices[0].district
    one = _run(panel, written, {**ALL_VALUES, "district": district}).series[0].values[0]
    assert 0 < one < city


def _panel(uid: str, en_title: str) -> dict[str, Any]:
    return next(p for p in iter_panels(BUILT[uid]) if p["title"].endswith(f" / {en_title}"))


def test_panel_sales_equal_accepted_sales(written: Written) -> None:
    """Vending "Sales" (roll-ups summed over both workers' partitions, successful vends only)
    equals the successful sales the collector accepted, to the fen."""
    data = _run(_panel("cityiot-vending", "Sales"), written, ALL_VALUES)
    assert written.run.sales_fen > 0
    assert data.series[0].values == [pytest.approx(written.run.sales_fen / 100)]


def test_panel_consumption_equals_accepted_payments(written: Written) -> None:
    """Overview "Consumption by payment" equals, per payment method, what the collector accepted
    at vending machines, stores and transit validators, to the fen; "e-CNY share, all
    facilities" is the e-CNY part of it."""
    paid = written.run.consumption_fen
    assert {facility for facility, _ in paid} == {"vending", "store", "transit"}
    expected: dict[str, float] = {}
    for (_, payment), fen in paid.items():
        expected[payment] = expected.get(payment, 0) + fen / 100
    pie = _run(_panel("cityiot-overview", "Consumption by payment"), written, ALL_VALUES)
    assert {s.name: s.values[0] for s in pie.series} == pytest.approx(expected)
    share = _run(_panel("cityiot-overview", "e-CNY share, all facilities"), written, ALL_VALUES)
    assert share.series[-1].values == [
        pytest.approx(100 * expected["ecny"] / sum(expected.values()))
    ]


def test_panel_deadletters_equal_collector_rejects(written: Written) -> None:
    """Platform "Dead letters" counts every message the collector core rejected."""
    data = _run(_panel("cityiot-platform", "Dead letters"), written, ALL_VALUES)
    assert written.run.deadletters > 0
    assert data.series[0].values == [written.run.deadletters]


def test_panel_silent_devices_lists_last_wills(written: Written) -> None:
    """Devices whose last will said offline are in the silent devices table."""
    data = _run(_panel("cityiot-health", "Silent devices"), written, ALL_VALUES)
    devices = {row[t.columns.index("device")] for t in data.tables for row in t.rows}
    assert {d.device_id for d in FLEET.will_devices} <= devices


def test_panel_smoke_alarms_counts_the_report(written: Written) -> None:
    """The one station report with smoke set is counted once."""
    data = _run(_panel("cityiot-recycling", "Smoke alarms"), written, ALL_VALUES)
    assert written.run.smoke_device is not None
    assert sum(v or 0 for s in data.series for v in s.values) == 1


def _rule(uid: str) -> dict[str, Any]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    rule: dict[str, Any] = next(r for g in groups for r in g["rules"] if r["uid"] == uid)
    return rule


def _rule_query_at(uid: str, target: InfluxTarget, now: datetime) -> list[dict[str, Any]]:
    """The rule's InfluxQL as Grafana runs it at ``now``: its relative range ending then."""
    (query,) = (d for d in _rule(uid)["data"] if d["datasourceUid"] != "__expr__")
    span = timedelta(seconds=query["relativeTimeRange"]["from"])
    text = expand(
        query["model"]["query"],
        time_range=TimeRange.last(span, now=now),
        interval=timedelta(minutes=1),
        variables={},
    )
    return target.query(text)


def _rule_query(uid: str, data: Written) -> list[dict[str, Any]]:
    return _rule_query_at(uid, data.target, data.now)


@pytest.mark.parametrize(
    ("uid", "per"),
    [
        ("cityiot-fridge-too-warm", "device"),
        ("cityiot-bin-almost-full", "device"),
        ("cityiot-smoke-alarm", "device"),
        ("cityiot-store-chiller-too-warm", "device"),
        ("cityiot-transit-line-no-taps", "line"),
        ("cityiot-vendor-silent", "vendor"),
    ],
)
def test_alert_rule_query_runs(written: Written, uid: str, per: str) -> None:
    """The Grafana alert rule's InfluxQL runs on what streams writes, one series per device
    (per line for the transit line rule, per vendor for the vendor rules)."""
    series = _rule_query(uid, written)
    assert all(set(s["tags"]) == {per} for s in series)
    if uid == "cityiot-smoke-alarm":
        assert [s["tags"]["device"] for s in series] == [written.run.smoke_device]
    else:
        assert series, f"{uid}: no data"


def test_alert_rule_offline_finds_last_wills(written: Written) -> None:
    """The devices-offline rule's query returns the devices whose last will said offline."""
    devices = {s["tags"]["device"] for s in _rule_query("cityiot-devices-offline", written)}
    assert {d.device_id for d in FLEET.will_devices} <= devices


def _firing(uid: str, series: list[dict[str, Any]]) -> dict[str, float]:
    """Per series (by its one tag's value), the rule's reduced value where its threshold holds:
    the last value (reducer ``last``), then the condition's evaluator, as Grafana applies them."""
    by_ref = {d["refId"]: d["model"] for d in _rule(uid)["data"]}
    assert by_ref["B"]["reducer"] == "last"
    (condition,) = by_ref["C"]["conditions"]
    kind, params = condition["evaluator"]["type"], condition["evaluator"]["params"]
    assert kind == "within_range", kind  # the one evaluator this helper knows
    low, high = params
    last = {next(iter(s["tags"].values())): s["values"][-1][1] for s in series}
    return {key: value for key, value in last.items() if low < value < high}


def test_alert_rule_vendor_silent_quiet_on_the_fleet(written: Written) -> None:
    """On the simulated fleet every vendor streams knows has a series, each heard within the
    last minutes: nobody is silent."""
    series = _rule_query("cityiot-vendor-silent", written)
    ages = {s["tags"]["vendor"]: s["values"][-1][1] for s in series}
    assert set(ages) == set(written.run.messages)
    assert all(0 <= age < 900 for age in ages.values()), ages
    assert _firing("cityiot-vendor-silent", series) == {}


# Three vendors' last messages before the health tick the silent-vendor rule reads: one heard a
# minute ago, one silent for 20 minutes, one gone for two days (beyond the rule's day).
SILENCES = {
    "ubox": timedelta(minutes=1),
    "aucma": timedelta(minutes=20),
    "zhongji": timedelta(days=2),
}


def _silence_lines(now: datetime) -> list[str]:
    """Through the collector core and the streams core: per vendor of SILENCES two machines,
    one heard an hour before the other's last message, then the health tick at ``now``."""
    registry = Registry(
        [
            DeviceRecord(
                device_id=f"VM-{vendor}-{n}",
                facility=Facility.VENDING,
                vendor=vendor,
                district_adcode="330203",
                lat=29.8683,
                lon=121.5440,
                expected_interval_s=300,
            )
            for vendor in SILENCES
            for n in (1, 2)
        ]
    )
    collector = Pipeline(collector_id="collector-0", registry=registry, districts=LOCATOR)
    processor = Processor(lateness_ms=600_000)
    sent = sorted(
        (now - silence - timedelta(hours=2 - n), f"VM-{vendor}-{n}", vendor)
        for vendor, silence in SILENCES.items()
        for n in (1, 2)
    )
    records = []
    for offset, (at, device, vendor) in enumerate(sent):
        body = VendingTelemetry(temperature_c=5.0, door_open=False)
        payload = encode(body, ts=int(at.timestamp() * 1000), seq=1)
        topic = f"city/vending/{vendor}/{device}/telemetry"
        routed = collector.route(Inbound(topic, payload, at, at.timestamp()))
        assert routed.kind == "event", routed
        records.append((offset, routed.value))
    result = BatchResult()
    processor.process(0, records, result)
    now_ms = int(now.timestamp() * 1000)
    health = health_lines(
        processor.partitions.values(), now_ms=now_ms, tick_ms=30_000, interval_for=lambda _: 300
    )
    return [*result.lines, *health]


def test_alert_rule_vendor_silent_fires_between_15_min_and_a_day(
    local_servers: LocalServers,
) -> None:
    """Health ticks written by streams' own code: the vendor silent for 20 minutes fires, with
    its freshest device's age; the one heard a minute ago and the one gone for two days do not."""
    now = datetime.fromtimestamp(int(datetime.now(UTC).timestamp()) // 30 * 30, UTC)
    target = InfluxTarget(
        url=local_servers.influxdb_url, database=f"silence_{datetime.now(UTC):%H%M%S%f}"
    )
    asyncio.run(_write(target, _silence_lines(now)))
    try:
        series = _rule_query_at("cityiot-vendor-silent", target, now)
    finally:
        target.execute(f"DROP DATABASE {quote_identifier(target.database)}")
    ages = {s["tags"]["vendor"]: s["values"][-1][1] for s in series}
    assert ages == {vendor: silence.total_seconds() for vendor, silence in SILENCES.items()}
    assert _firing("cityiot-vendor-silent", series) == {"aucma": 1200.0}


def _scorecard(data: Written, variables: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The vendor scorecard as Grafana shows it (after its transformations), row by vendor,
    cells by their query names (``messages``, ``rejection_rate``, ...)."""
    panel = _panel("cityiot-vendors", "Vendor scorecard")
    (table,) = shown_tables(panel, _run(panel, data, variables))
    assert table.columns == list(SCORECARD_COLUMNS.values())
    rows = [dict(zip(SCORECARD_COLUMNS, row, strict=True)) for row in table.rows]
    return {row["vendor"]: row for row in rows}


def _per_vendor(uid: str, en_title: str, data: Written) -> dict[str, float]:
    """A per-day panel's values summed over days and, per vendor, over its series."""
    totals: dict[str, float] = {}
    for series in _run(_panel(uid, en_title), data, ALL_VALUES).series:
        vendor = series.name.split()[0]
        totals[vendor] = totals.get(vendor, 0) + sum(v or 0 for v in series.values)
    return totals


def test_scorecard_equals_the_pipeline(written: Written) -> None:
    """Per vendor: messages equal the events the collector accepted on time, rejected the dead
    letters of that vendor's topics, the rate their share of all three; gaps, reboots and late
    what the streams state counted from the first health tick; silent the devices found
    offline at a tick."""
    run = written.run
    card = _scorecard(written, ALL_VALUES)
    assert set(card) == set(run.messages) | set(run.rejected)
    for vendor, row in card.items():
        messages, rejected = run.messages[vendor], run.rejected[vendor]
        late = run.late[vendor]
        assert row["messages"] == messages, vendor
        assert (row["rejected"] or 0) == rejected, vendor
        assert row["rejection_rate"] == pytest.approx(rejected / (messages + late + rejected))
        first = run.first_counters.get(vendor, (0, 0, 0))
        last = run.last_counters.get(vendor, (0, 0, 0))
        changed = [b - a for a, b in zip(first, last, strict=True)]
        assert [row["gaps"] or 0, row["reboots"] or 0, row["late"] or 0] == changed, vendor
        assert (row["silent"] or 0) == len(run.silent.get(vendor, ())), vendor


def test_scorecard_shows_loss_lateness_skew_and_reboots(written: Written) -> None:
    """The faults of the delivery are on their vendor's row and nowhere else: the lost messages
    as seq gaps, the held message as late (its gap closed again), the slow clocks as skew."""
    run = written.run
    card = _scorecard(written, ALL_VALUES)
    ((lost_vendor, lost),) = run.lost.items()
    ((late_vendor, late),) = run.late.items()
    assert (lost, late) == (LOST, 1)
    assert {v: r["gaps"] for v, r in card.items() if r["gaps"]} == {lost_vendor: LOST}
    assert {v: r["late"] for v, r in card.items() if r["late"]} == {late_vendor: 1}
    skew_ms = SKEW.total_seconds() * 1000
    assert card[run.skew_vendor]["skew_p50"] == pytest.approx(skew_ms, abs=2)
    others = [r["skew_p50"] for v, r in card.items() if v != run.skew_vendor]
    assert all(abs(p50) <= 2 for p50 in others if p50 is not None)
    assert sum(r["reboots"] or 0 for r in card.values()) > 0


def test_scorecard_top_reason_is_the_most_frequent(written: Written) -> None:
    """Each vendor's top reason is one of its most frequent reject codes in the reasons table,
    whose counts add up to the scorecard's rejected."""
    card = _scorecard(written, ALL_VALUES)
    panel = _panel("cityiot-vendors", "Rejections by reason")
    (table,) = shown_tables(panel, _run(panel, written, ALL_VALUES))
    assert table.columns == ["厂商 Vendor", "原因 Reason", "拒收 Rejected"]
    by_vendor: dict[str, dict[str, int]] = {}
    for vendor, reason, count in table.rows:
        by_vendor.setdefault(vendor, {})[reason] = count
    for vendor, row in card.items():
        reasons = by_vendor.get(vendor, {})
        assert sum(reasons.values()) == (row["rejected"] or 0), vendor
        if reasons:
            assert reasons[row["reason"]] == max(reasons.values()), vendor


@pytest.mark.parametrize(
    ("en_title", "column"),
    [
        ("Messages per day", "messages"),
        ("Rejected per day", "rejected"),
        ("Seq gaps per day", "gaps"),
        ("Reboots per day", "reboots"),
        ("Late per day", "late"),
    ],
)
def test_scorecard_per_day_adds_up(written: Written, en_title: str, column: str) -> None:
    """Per vendor, a per-day panel's days add up to the scorecard's figure for the range."""
    card = _scorecard(written, ALL_VALUES)
    per_day = _per_vendor("cityiot-vendors", en_title, written)
    expected = {v: r[column] for v, r in card.items() if r[column]}
    assert expected
    assert {v: total for v, total in per_day.items() if total} == expected


def test_scorecard_silent_per_day_counts_the_devices(written: Written) -> None:
    """Silent devices per day: on no day more than over the range, and each device on some day
    (the data may straddle Beijing midnight)."""
    card = _scorecard(written, ALL_VALUES)
    panel = _panel("cityiot-vendors", "Silent devices per day")
    for series in _run(panel, written, ALL_VALUES).series:
        days = [v for v in series.values if v]
        assert max(days) <= card[series.name]["silent"] <= sum(days), series.name


def test_scorecard_skew_per_day_shows_the_slow_clocks(written: Written) -> None:
    """Clock skew per day: the slow vendor's p50 line is its clocks' lag."""
    panel = _panel("cityiot-vendors", "Clock skew per day")
    series = {s.name: s for s in _run(panel, written, ALL_VALUES).series}
    days = [v for v in series[f"{written.run.skew_vendor} skew_p50"].values if v is not None]
    assert days
    assert all(v == pytest.approx(SKEW.total_seconds() * 1000, abs=2) for v in days)


def test_scorecard_vendor_filter_keeps_its_rows(written: Written) -> None:
    """Choosing two vendors (Grafana's multi-value regex) leaves their rows, unchanged."""
    card = _scorecard(written, ALL_VALUES)
    chosen = sorted(written.run.messages)[:2]
    narrowed = _scorecard(written, {**ALL_VALUES, "vendor": f"({'|'.join(chosen)})"})
    assert narrowed == {v: card[v] for v in chosen}


@pytest.mark.parametrize("uid", ["cityiot-health", "cityiot-vendors"])
def test_vendor_variable_lists_vendors(influx: InfluxTarget, uid: str) -> None:
    """The chained vendor variable's query returns the fleet's vendors of the chosen facility."""
    variable = next(v for v in BUILT[uid]["templating"]["list"] if v["name"] == "vendor")
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
