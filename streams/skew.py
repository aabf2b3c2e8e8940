"""Clock skew per device (pure): receive time minus device time over its recent messages.

skew = ``received_at`` (the collector's clock) − ``ts`` (the device's), in milliseconds: about
0 plus the delivery delay for a device whose clock is right, negative for a clock running ahead,
large and positive for a clock running behind or for a backlog flushed after an outage.
``device_health`` reports the 50th and 99th percentiles of the last :data:`SKEW_SAMPLES`
samples (``skew_p50_ms``, ``skew_p99_ms``): p50 is the clock's offset (plus the usual delay),
p99 what the slowest deliveries or a flushed backlog look like.

The state is one ``array('i')`` per device (int32, 4 bytes a slot): slot 0 counts the samples
seen, slots 1..:data:`SKEW_SAMPLES` are a ring the newest sample overwrites the oldest of, so the
figures follow the device's last messages and forget older behaviour by themselves. A worker holds
115,000 devices at ~7.5 KB each; the ring adds 212 bytes (80 of array header, 132 of samples;
``tests/unit/streams/test_skew.py`` holds it to that), where a list of 32 floats would take ~1 KB.
Samples are clamped to int32 (±24.8 days): decoding accepts device times up to 7 days old and 5
minutes ahead, status messages aside, and those are not sampled (:func:`samples_skew`).
"""

from __future__ import annotations

from array import array
from math import ceil

__all__ = ["SKEW_SAMPLES", "add_skew", "dump_skew", "load_skew", "samples_skew", "skew_quantiles"]

# 32 messages: ~2.7 h of a vending machine's 5-minute telemetry, ~5 min of a moving bike's
# positions: recent enough to show a clock that just jumped, enough samples for a stable median.
SKEW_SAMPLES = 32
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
# The count in slot 0 wraps from 2 * SKEW_SAMPLES back to SKEW_SAMPLES: the ring position
# (count mod SKEW_SAMPLES) continues and the count never overflows int32.
_COUNT_WRAP = 2 * SKEW_SAMPLES


def samples_skew(kind: str) -> bool:
    """Whether a message of body ``kind`` is a skew sample. Status messages are not: a last will
    carries the time of the connect that registered it, a retained status the time it was set."""
    return kind != "device_status"


def add_skew(ring: array[int] | None, skew_ms: int) -> array[int]:
    """Record one sample in ``ring`` (created at the first sample) and return it."""
    if ring is None:
        ring = array("i", [0]) * (SKEW_SAMPLES + 1)
    seen = ring[0]
    ring[1 + seen % SKEW_SAMPLES] = min(_INT32_MAX, max(_INT32_MIN, skew_ms))
    seen += 1
    ring[0] = SKEW_SAMPLES if seen == _COUNT_WRAP else seen
    return ring


def skew_quantiles(ring: array[int] | None) -> tuple[int, int] | None:
    """(p50, p99) of the samples in ``ring`` by nearest rank, in ms; None before any sample."""
    if ring is None or ring[0] == 0:
        return None
    n = min(ring[0], SKEW_SAMPLES)
    samples = sorted(ring[1 : 1 + n])
    return samples[ceil(0.50 * n) - 1], samples[ceil(0.99 * n) - 1]


def dump_skew(ring: array[int] | None) -> list[int] | None:
    """The ring as JSON-ready integers (for the device's state record)."""
    return None if ring is None else ring.tolist()


def load_skew(data: list[int] | None) -> array[int] | None:
    """The ring back from :func:`dump_skew`; None (no samples yet) for a record without one."""
    if data is None or len(data) != SKEW_SAMPLES + 1:
        # A record written with another SKEW_SAMPLES starts again rather than misplace samples.
        return None
    return array("i", data)
