"""Clock skew per device (streams/skew.py): percentiles of the last samples, fixed size, and the
``skew_p50_ms`` / ``skew_p99_ms`` fields of ``device_health``."""

from __future__ import annotations

import json
import re
import sys
from array import array
from datetime import datetime, timedelta

import pytest

from streams.health import health_lines
from streams.processor import BatchResult, Processor
from streams.skew import (
    SKEW_SAMPLES,
    add_skew,
    dump_skew,
    load_skew,
    samples_skew,
    skew_quantiles,
)
from streams.state import DeviceState, PartitionState
from streams.synthetic import Fleet

# The worker holds 115,000 devices at ~7.5 KB each (streams/README.md): the estimator must stay
# a small fraction of that.
MAX_RING_BYTES = 256


def _ring(samples: list[int]) -> array[int] | None:
    ring = None
    for value in samples:
        ring = add_skew(ring, value)
    return ring


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([], None),
        ([250], (250, 250)),
        (list(range(1, 11)), (5, 10)),
        ([-180_000] * 20 + [400] * 11, (-180_000, 400)),
        (list(range(100, 100 + SKEW_SAMPLES)), (100 + SKEW_SAMPLES // 2 - 1, 99 + SKEW_SAMPLES)),
    ],
    ids=["no samples", "one", "one to ten", "clock 3 min ahead, then right", "full ring"],
)
def test_skew_quantiles_nearest_rank(samples: list[int], expected: tuple[int, int] | None) -> None:
    """p50 and p99 by nearest rank over the samples held."""
    assert skew_quantiles(_ring(samples)) == expected


def test_skew_ring_forgets_older_behaviour() -> None:
    """A clock 4 min slow set right by NTP: the old offset leaves the figures with the last of
    its samples, SKEW_SAMPLES messages later."""
    ring = _ring([240_000] * 100)
    assert skew_quantiles(ring) == (240_000, 240_000)
    for _ in range(SKEW_SAMPLES - 1):
        ring = add_skew(ring, 300)
    assert skew_quantiles(ring) == (300, 240_000)
    ring = add_skew(ring, 300)
    assert skew_quantiles(ring) == (300, 300)


def test_skew_ring_is_fixed_size_and_count_never_overflows() -> None:
    """However many samples, the ring keeps its size and the ring position continues."""
    ring = _ring(list(range(5 * SKEW_SAMPLES + 7)))
    assert ring is not None
    assert len(ring) == SKEW_SAMPLES + 1
    assert SKEW_SAMPLES <= ring[0] < 2 * SKEW_SAMPLES
    newest = list(range(4 * SKEW_SAMPLES + 7, 5 * SKEW_SAMPLES + 7))
    assert sorted(ring[1:]) == newest


def test_skew_samples_clamped_to_int32() -> None:
    """A ts years off (status messages are not sampled, but a bug must not crash the worker)."""
    assert skew_quantiles(_ring([10**12, -(10**12)])) == (-(2**31), 2**31 - 1)


def test_skew_memory_per_device_is_small() -> None:
    """A device's full ring takes at most MAX_RING_BYTES (measured: 212)."""
    ring = _ring(list(range(3 * SKEW_SAMPLES)))
    assert sys.getsizeof(ring) <= MAX_RING_BYTES
    reloaded = load_skew(json.loads(json.dumps(dump_skew(ring))))
    assert sys.getsizeof(reloaded) <= MAX_RING_BYTES


def test_skew_state_round_trips_through_the_changelog_record() -> None:
    """DeviceState.dump/load keep the ring; records without one (or of another size) load empty."""
    dev = DeviceState("VM-1", (("facility", "vending"),), skew=_ring([120, 80, 95]))
    again = DeviceState.load(dev.dump())
    assert again.skew == dev.skew
    assert skew_quantiles(again.skew) == (95, 120)
    record = json.loads(dev.dump())
    del record["sk"]
    assert DeviceState.load(json.dumps(record).encode()).skew is None
    record["sk"] = [3, 1, 2, 3]
    assert DeviceState.load(json.dumps(record).encode()).skew is None


def test_skew_status_messages_are_not_samples() -> None:
    """A last will carries its connect time: no skew sample from statuses."""
    assert not samples_skew("device_status")
    assert samples_skew("vending_sale")


def _fields(text: str) -> dict[str, str]:
    return dict(re.findall(r"([a-z_0-9]+)=([^,]+)", text.split(" ")[1]))


def test_device_health_carries_skew_of_accepted_messages() -> None:
    """Received 500 ms after device time: p50 = p99 = 500 per device; the duplicates (received
    again, later) change nothing."""
    fleet = Fleet(devices=6)
    records = [(i, r.value) for i, r in enumerate(fleet.records(120, rx_delay_ms=500))]
    later = [(i + 1000, _received_later(v)) for i, v in records]
    proc = Processor(lateness_ms=600_000)
    proc.process(0, records + later, BatchResult())
    lines = health_lines(
        proc.partitions.values(), now_ms=fleet.start_ms, tick_ms=30_000, interval_for=lambda _: 60
    )
    health = [_fields(t) for t in lines if t.startswith("device_health,")]
    assert len(health) == 6
    assert {(f["skew_p50_ms"], f["skew_p99_ms"]) for f in health} == {("500i", "500i")}
    assert sum(int(f["duplicates"].rstrip("i")) for f in health) == 120


def test_device_health_leaves_skew_out_before_any_sample() -> None:
    """A device known only from a status has no skew fields (line protocol has no null)."""
    part = PartitionState(0)
    part.devices["VM-2"] = DeviceState("VM-2", (("facility", "vending"),), last_rx_ms=1)
    (line, _) = health_lines([part], now_ms=2, tick_ms=1, interval_for=lambda _: 60)
    assert line.startswith("device_health,")
    assert "skew_" not in line
    assert "resets=0i" in line


def _received_later(value: bytes) -> bytes:
    """The same envelope as a redelivery: received an hour later."""
    env = json.loads(value)
    rx = datetime.fromisoformat(env["received_at"]) + timedelta(hours=1)
    env["received_at"] = rx.isoformat()
    return json.dumps(env).encode()
