"""``cityiot dashboards snapshot`` as a process, reading the session's real InfluxDB.

The data is the pipeline's own output, as in the dashboards' query tests but smaller: simulated
devices through the collector core (``collectors.pipeline.Pipeline``) and the streams core
(``streams.processor.Processor``, ``streams.health.health_lines``, ``streams.platform``'s dead
letter and stats points), one batch a minute over the ten minutes before now, written through
InfluxDB's real ``/write``. The same command against an empty database is the comparison: a
picture drawn from data has more on it than one of "No data" panels.
"""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_support import cityiot_env, run_cityiot
from matplotlib import image

from cityiot.local.runner import LocalServers
from collectors.pipeline import Inbound, Pipeline
from core.influx import InfluxTarget, V1Writer, quote_identifier
from dashboards.build import build_all
from dashboards.queries import iter_panels
from dashboards.snapshot import ROW_INCH, WIDTH_INCH
from schemas import DistrictIndex
from simulator.engine import Simulation
from simulator.fleet import build_fleet
from streams.health import health_lines
from streams.platform import StatsCounters, deadletter_point, stats_point
from streams.points import NS_PER_MS
from streams.processor import BatchResult, Processor
from streams.state import DeviceState

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# fig.savefig(path, dpi=80) in dashboards/snapshot.py: the width every picture has.
DPI = 80
# Ten minutes of wall-clock time, inside the one hour the command is asked for, and inside the
# mobility map's 15 minutes; one simulated hour of 60 devices stamped onto it, enough for every
# facility in several districts.
SPAN = timedelta(minutes=10)
LAST = "1h"
SIM_SECONDS = 3600.0
DEVICES = 60
SEED = 5
BAD_RATIO = 0.01  # some dead letters, for the health and platform boards
BATCH = timedelta(minutes=1)
# streams' defaults: events late after 600 s, health every 30 s (the boards group by 30 s).
LATENESS_MS = 600_000
HEALTH_TICK_MS = 30_000
DEFAULT_INTERVAL_S = 300
WRITE_LINES = 5000
# A pixel darker than this in every channel (of 1.0) is ink, not the white background.
INK_BELOW = 0.95


def pipeline_lines(now: datetime) -> list[str]:
    """Line protocol of ``SPAN`` ending at ``now``, produced by the pipeline's own code."""
    locator = DistrictIndex.load()
    fleet = build_fleet(DEVICES, seed=SEED, locator=locator)
    registry = fleet.registry()
    start = now - SPAN

    def clock() -> datetime:
        return start + SPAN * min(sim.sim_time / SIM_SECONDS, 1.0)

    def interval_for(dev: DeviceState) -> int:
        record = registry.get(dev.device_id)
        return record.expected_interval_s if record is not None else DEFAULT_INTERVAL_S

    sim = Simulation(fleet, seed=SEED, locator=locator, bad_ratio=BAD_RATIO, clock=clock)
    collector = Pipeline(collector_id="collector-0", registry=registry, districts=locator)
    processor = Processor(lateness_ms=LATENESS_MS)
    lines: list[str] = []
    batch: list[tuple[int, bytes]] = []
    offset = dead = 0

    def flush(at: datetime) -> None:
        nonlocal dead
        result = BatchResult()
        processor.process(0, batch, result)
        assert not result.rejected, result.rejected
        lines.extend(result.lines)
        ms = int(at.timestamp() * 1000)
        partitions = processor.partitions.values()
        lines.extend(
            health_lines(partitions, now_ms=ms, tick_ms=HEALTH_TICK_MS, interval_for=interval_for)
        )
        counters = StatsCounters(
            events_in=len(batch),
            duplicates=result.duplicates,
            late=result.late,
            points_written=len(result.lines),
            deadletters_in=dead,
        )
        deltas = counters.minus(StatsCounters())
        lines.append(stats_point(deltas, kafka_lag=0, instance="streams-0", ts_ns=ms * NS_PER_MS))
        batch.clear()
        dead = 0

    batch_end = start + BATCH
    for msg in sim.messages():
        if sim.sim_time > SIM_SECONDS:
            break
        sent_at = clock()
        while sent_at >= batch_end:
            flush(batch_end)
            batch_end += BATCH
        routed = collector.route(Inbound(msg.topic, msg.payload, sent_at, sent_at.timestamp()))
        if routed.kind == "event":
            batch.append((offset, routed.value))
            offset += 1
        else:
            ms = int(sent_at.timestamp() * 1000)
            lines.append(deadletter_point(routed.value, kafka_ts_ms=ms))
            dead += 1
    flush(now)
    return lines


async def _write(target: InfluxTarget, lines: list[str]) -> None:
    writer = V1Writer(target)
    await writer.start()  # creates the database
    try:
        for first in range(0, len(lines), WRITE_LINES):
            await writer.write(lines[first : first + WRITE_LINES])
    finally:
        await writer.close()


def _snapshot(target: InfluxTarget, directory: Path, tmp_path: Path) -> dict[str, Path]:
    """Run the command on ``target``'s database; the pictures it lists, by dashboard uid."""
    env = cityiot_env(
        tmp_path,
        CITYIOT_INFLUXDB_URL=target.url,
        CITYIOT_INFLUXDB_DATABASE=target.database,
    )
    result = run_cityiot(["dashboards", "snapshot", str(directory), "--last", LAST], env)
    assert result.returncode == 0, result.stderr
    listed = [Path(line) for line in result.stdout.splitlines()]
    assert sorted(directory.iterdir()) == sorted(listed)
    return {path.stem: path for path in listed}


def _size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's first chunk (IHDR), after checking the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, path
    assert head[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _ink(path: Path) -> int:
    """Pixels that are not background white."""
    pixels = image.imread(path)
    return int((pixels[:, :, :3].max(axis=2) < INK_BELOW).sum())


def test_dashboards_snapshot_draws_each_dashboard_from_the_database(
    local_servers: LocalServers, unique_name: str, tmp_path: Path
) -> None:
    """One valid PNG per dashboard, laid out on its grid, drawn from the configured database:
    each has more on it than the same dashboard from an empty database."""
    now = datetime.now(UTC)
    url = local_servers.influxdb_url
    filled = InfluxTarget(url=url, database=f"snap_{unique_name}")
    empty = InfluxTarget(url=url, database=f"snap_empty_{unique_name}")
    asyncio.run(_write(filled, pipeline_lines(now)))
    asyncio.run(_write(empty, []))
    try:
        drawn = _snapshot(filled, tmp_path / "filled", tmp_path)
        blank = _snapshot(empty, tmp_path / "empty", tmp_path)
    finally:
        for target in (filled, empty):
            target.execute(f"DROP DATABASE {quote_identifier(target.database)}")
    boards = build_all()
    assert list(drawn) == list(boards)
    assert list(blank) == list(boards)
    for uid, board in boards.items():
        # The full width, and tall enough for every row of the dashboard's grid.
        rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in iter_panels(board))
        for path in (drawn[uid], blank[uid]):
            width, height = _size(path)
            assert width == WIDTH_INCH * DPI, path
            assert height >= rows * ROW_INCH * DPI, path
        assert _ink(drawn[uid]) > _ink(blank[uid]), uid
