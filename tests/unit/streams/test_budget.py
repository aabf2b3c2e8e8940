"""The series budget: 20,000 devices stay under 200,000 series, whatever they send."""

from __future__ import annotations

import json

from streams.health import health_lines
from streams.processor import BatchResult, Processor
from streams.synthetic import Fleet

BUDGET = 200_000
DEVICES = 20_000
# Group roll-ups grow with vendors (per facility: the sample has one) and Kafka partitions (the
# sample has one), not with devices. Assumed: up to 10 vendors per facility, 12 partitions.
VENDORS_PER_FACILITY = 10
PARTITIONS = 12
SAMPLE = 300


def _series(text: str) -> str:
    return text.split(" ", 1)[0]


def _status(value: bytes) -> bytes:
    env = json.loads(value)
    env.update(channel="status", seq=10**9, body={"kind": "device_status", "state": "offline"})
    return json.dumps(env).encode()


def test_series_budget_for_20k_devices() -> None:
    """Series per device (raw, per-device roll-ups, health) × 20k + group series < 200k."""
    fleet = Fleet(devices=SAMPLE)
    values = [r.value for r in fleet.records(40 * SAMPLE)]
    first_of = {json.loads(v)["device_id"]: v for v in reversed(values)}
    values += [_status(v) for v in first_of.values()]
    proc, result = Processor(lateness_ms=600_000), BatchResult()
    proc.process(0, list(enumerate(values)), result)
    lines = result.lines + health_lines(
        proc.partitions.values(), now_ms=0, tick_ms=1000, interval_for=lambda _: 60
    )
    series = set(map(_series, lines))
    per_device = {s for s in series if ",device=" in s}
    groups = series - per_device
    assert len(first_of) == SAMPLE
    assert len(per_device) <= 6 * SAMPLE, "at most 6 series per device"
    total = len(per_device) * DEVICES // SAMPLE + len(groups) * VENDORS_PER_FACILITY * PARTITIONS
    assert total < BUDGET, f"{total} series for {DEVICES} devices"
