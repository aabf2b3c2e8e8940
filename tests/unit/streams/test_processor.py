"""A batch through the pure core: exact counts under duplicates, replay and lateness."""

from __future__ import annotations

import re

from streams.processor import BatchResult, Processor
from streams.state import DeviceState, PartitionState
from streams.synthetic import Fleet


def _fen_1m(lines: list[str]) -> dict[str, int]:
    """Last written amount per vending_sale_1m point (a rewrite replaces a point)."""
    points: dict[str, int] = {}
    for text in lines:
        if text.startswith("vending_sale_1m,"):
            series, fields, ts = text.rsplit(" ", 2)
            points[f"{series} {ts}"] = int(re.search(r"amount_fen=(\d+)i", fields).group(1))  # type: ignore[union-attr]
    return points


def test_processor_drops_duplicates_exactly() -> None:
    """Every record twice: accepted once, roll-ups total the truth."""
    fleet = Fleet(devices=30)
    records = [(i, r.value) for i, r in enumerate(fleet.records(600))]
    proc, result = Processor(lateness_ms=600_000), BatchResult()
    proc.process(0, records + records, result)
    assert result.accepted == 600
    assert result.duplicates == 600
    assert sum(_fen_1m(result.lines).values()) == sum(fleet.truth.fen.values())


def test_processor_replay_after_restart_rewrites_same_points() -> None:
    """State restored from the changelog + the batch replayed = the same final points."""
    fleet = Fleet(devices=30)
    first = [(i, r.value) for i, r in enumerate(fleet.records(300, span_ms=60_000))]
    second = [(i, r.value) for i, r in enumerate(fleet.records(300, span_ms=60_000))]
    proc, once = Processor(lateness_ms=600_000), BatchResult()
    proc.process(0, first, once)
    saved = {d: s.dump() for d, s in proc.partitions[0].devices.items()}
    proc.process(0, second, once)
    # Crash after the first batch's changelog: restore, rebuild groups, replay the second batch.
    part = PartitionState(0, {d: DeviceState.load(raw) for d, raw in saved.items()})
    part.rebuild_groups()
    again = BatchResult()
    Processor(lateness_ms=600_000, partitions={0: part}).process(0, second, again)
    assert _fen_1m(once.lines) | _fen_1m(again.lines) == _fen_1m(once.lines)
    assert sum(_fen_1m(once.lines).values()) == sum(fleet.truth.fen.values())


def test_processor_counts_late_events_and_writes_them_raw() -> None:
    """An event received after its window's lateness is raw-only and counted late."""
    fleet = Fleet(devices=3)
    records = fleet.records(30, rx_delay_ms=12 * 60_000)
    proc, result = Processor(lateness_ms=600_000), BatchResult()
    proc.process(0, [(i, r.value) for i, r in enumerate(records)], result)
    assert result.late == sum(1 for r in records if r.kind != "device_status")
    assert not any("_1m," in text for text in result.lines)
    assert sum(1 for text in result.lines if "_1m" not in text.split(",")[0]) == 30


def test_processor_event_older_than_kept_windows_is_late_not_a_rewrite() -> None:
    """An event whose window the partition no longer keeps (a replay produced an hour after it
    was received) is raw-only and late: it never rewrites that window's point from itself."""
    fleet = Fleet(devices=30)
    first = fleet.records(300, span_ms=60_000)
    later = fleet.records(300, span_ms=3_600_000)
    proc, before = Processor(lateness_ms=600_000), BatchResult()
    proc.process(0, [(i, r.value) for i, r in enumerate(first[:250] + later)], before)
    replayed = BatchResult()
    proc.process(0, [(i, r.value) for i, r in enumerate(first[250:], 550)], replayed)
    assert replayed.accepted == 50
    assert replayed.late == sum(1 for r in first[250:] if r.kind != "device_status")
    assert _fen_1m(replayed.lines) == {}


def test_processor_rejects_non_envelopes() -> None:
    """A record that is not an Envelope is reported for the dead letter, not raised."""
    proc, result = Processor(lateness_ms=0), BatchResult()
    proc.process(2, [(7, b'{"nope": 1}')], result)
    assert [(r.partition, r.offset) for r in result.rejected] == [(2, 7)]
