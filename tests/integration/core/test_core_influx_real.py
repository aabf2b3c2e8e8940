"""The InfluxDB client against the real InfluxDB: round trip, and how it really answers errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from core.influx import (
    InfluxQueryError,
    InfluxRejected,
    InfluxTarget,
    InfluxUnavailable,
    V1Writer,
    quote_identifier,
)
from core.settings import Settings

pytestmark = pytest.mark.integration

NS = 10**18


@pytest.fixture
def target(settings: Settings) -> Iterator[InfluxTarget]:
    """This test's database (created by the writer), dropped afterwards."""
    target = InfluxTarget.from_settings(settings.influxdb)
    yield target
    target.execute(f"DROP DATABASE {quote_identifier(target.database)}")


async def _write(target: InfluxTarget, *batches: list[str]) -> list[Exception | None]:
    """Each batch through one writer; what each write raised (None: written)."""
    writer = V1Writer(target)
    await writer.start()
    outcomes: list[Exception | None] = []
    try:
        for lines in batches:
            try:
                await writer.write(lines)
            except (InfluxUnavailable, InfluxRejected) as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
    finally:
        await writer.close()
    return outcomes


def test_v1_writer_round_trip(target: InfluxTarget) -> None:
    """start() creates the database; written lines come back from query, nanoseconds kept."""
    lines = [f"m,device=d{i} v={i}i {NS + i}" for i in range(3)]
    assert asyncio.run(_write(target, lines)) == [None]
    (series,) = target.query('SELECT "v" FROM "m"', epoch="ns")
    assert series["values"] == [[NS, 0], [NS + 1, 1], [NS + 2, 2]]


def test_v1_writer_recreates_a_dropped_database(target: InfluxTarget) -> None:
    """A database dropped under a running writer: that write is retryable, the next lands."""
    writer = V1Writer(target)

    async def run() -> None:
        await writer.start()
        try:
            target.execute(f"DROP DATABASE {quote_identifier(target.database)}")
            with pytest.raises(InfluxUnavailable, match="database not found; created it"):
                await writer.write([f"m v=1 {NS}"])
            await writer.write([f"m v=2 {NS}"])
        finally:
            await writer.close()

    asyncio.run(run())
    assert target.query('SELECT "v" FROM "m"', epoch="ns")[0]["values"] == [[NS, 2.0]]


def test_v1_writer_field_type_conflict_is_rejected(target: InfluxTarget) -> None:
    """InfluxDB's 400 for a type conflict is InfluxRejected with its own message."""
    first, second = asyncio.run(_write(target, [f"m v=1.5 {NS}"], [f'm v="text" {NS + 1}']))
    assert first is None
    assert isinstance(second, InfluxRejected)
    assert second.status == 400
    assert "field type conflict" in second.message


def test_query_unknown_database_is_a_query_error(settings: Settings) -> None:
    """Before the worker's first write the database is missing: a query error (retried by
    ``Platform.wait_reconciled``), not unavailability."""
    target = InfluxTarget.from_settings(settings.influxdb)
    with pytest.raises(InfluxQueryError, match="database not found") as caught:
        target.query('SELECT * FROM "m"')
    assert caught.value.status == 200


def test_query_syntax_error_is_a_query_error(target: InfluxTarget) -> None:
    """InfluxDB answers a malformed statement with HTTP 400: a query error naming it."""
    target.execute(f"CREATE DATABASE {quote_identifier(target.database)}")
    with pytest.raises(InfluxQueryError, match="SELEC") as caught:
        target.query("SELEC v FROM m")
    assert caught.value.status == 400
