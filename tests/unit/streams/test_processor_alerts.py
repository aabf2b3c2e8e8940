"""Alert rules in the batch core: once per incident through duplicates and a crash replay, state
in the device record, ticks that only dirty what changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import Enrichment, Envelope
from schemas.catalog import message_type_of_kind
from streams.alerts import AlertEngine, load_rules
from streams.processor import BatchResult, Processor
from streams.state import DeviceState, PartitionState

T0 = datetime(2025, 5, 1, 2, 0, tzinfo=UTC)
ENGINE = AlertEngine(load_rules())


def _fridge(minutes: range, device: str = "VM-1") -> list[tuple[int, bytes]]:
    """Telemetry every 5 min, 12 °C from minute 10 to 55; (offset, value) records."""
    mt = message_type_of_kind("vending_telemetry")
    out = []
    for m in minutes:
        ts = T0 + timedelta(minutes=m)
        env = Envelope(
            device_id=device,
            facility=mt.facilities[0],
            vendor="nbvend",
            channel=mt.channel,
            ts=ts,
            seq=m,
            received_at=ts,
            body=mt.body.model_validate(
                {"temperature_c": 12.0 if 10 <= m < 60 else 6.0, "door_open": False}
            ),
            enrichment=Enrichment(district_adcode="330281"),
        )
        out.append((m, env.model_dump_json().encode()))
    return out


def _fridge_alerts(result: BatchResult) -> list[tuple[str, str]]:
    return [
        (a.status, a.idempotency_key) for a in result.alerts if a.rule == "vending-fridge-too-warm"
    ]


def test_processor_alerts_once_with_every_message_twice() -> None:
    """Duplicated messages: one firing and one resolved, each with its alerts point."""
    records = _fridge(range(0, 95, 5))
    proc, result = Processor(lateness_ms=600_000, engine=ENGINE), BatchResult()
    proc.process(0, [r for rec in records for r in (rec, rec)], result)
    assert [s for s, _ in _fridge_alerts(result)] == ["firing", "resolved"]
    points = [t for t in result.lines if t.startswith("alerts,")]
    assert len(points) == 2
    assert all("rule=vending-fridge-too-warm" in t for t in points)
    state = proc.partitions[0].devices["VM-1"].alerts
    assert state is not None
    assert state.partition == 0


def test_processor_alerts_replay_after_crash_repeats_same_changes() -> None:
    """State restored from the record + the batch replayed: the same changes, same keys."""
    first, second = _fridge(range(0, 35, 5)), _fridge(range(35, 95, 5))
    proc, once = Processor(lateness_ms=600_000, engine=ENGINE), BatchResult()
    proc.process(0, first, once)
    saved = {d: s.dump() for d, s in proc.partitions[0].devices.items()}
    proc.process(0, second, once)
    # Crash before the second batch's changelog: restore the record, replay the batch.
    part = PartitionState(0, {d: DeviceState.load(raw) for d, raw in saved.items()})
    again = BatchResult()
    Processor(lateness_ms=600_000, partitions={0: part}, engine=ENGINE).process(0, second, again)
    assert _fridge_alerts(again) == _fridge_alerts(once)
    assert [s for s, _ in _fridge_alerts(once)] == ["firing", "resolved"]


def test_processor_tick_fires_offline_once_and_dirties_only_changes() -> None:
    """A silent device's offline alert fires on the first late tick only; quiet ticks write none."""
    proc = Processor(lateness_ms=600_000, engine=ENGINE)
    proc.process(0, _fridge(range(0, 10, 5)), BatchResult())
    early = BatchResult()
    proc.tick(T0 + timedelta(minutes=10), early)
    assert early.alerts == []
    assert early.dirty == set()
    late, later = BatchResult(), BatchResult()
    proc.tick(T0 + timedelta(hours=2), late)
    proc.tick(T0 + timedelta(hours=3), later)
    assert [(a.rule, a.status) for a in late.alerts] == [("device-silent", "firing")]
    assert late.dirty == {(0, "VM-1")}
    assert later.alerts == []
    assert later.dirty == set()


def test_processor_without_engine_keeps_no_alert_state() -> None:
    """No rules, no alert state in the record (and records without one still load)."""
    proc = Processor(lateness_ms=600_000)
    proc.process(0, _fridge(range(0, 95, 5)), result := BatchResult())
    assert result.alerts == []
    dev = proc.partitions[0].devices["VM-1"]
    assert dev.alerts is None
    assert DeviceState.load(dev.dump()).alerts is None
