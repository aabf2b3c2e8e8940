"""Event-time 1-minute roll-ups (pure): aggregates, lateness and their ``*_1m`` points.

A window is ``[start, start + 60 s)`` of device time. An event is *late* when the collector
received it more than ``allowed_lateness`` after its window ended: it is written raw and counted,
never added to a window. Using the receive time (carried in the envelope) rather than a watermark
makes the decision a pure function of the event, so a replay after a crash decides the same way.

Two kinds of roll-up point, both stamped at the window start so that a rewrite overwrites:

* ``{kind}_1m``: per district × facility × vendor × split tags (payment and outcome for sales,
  category for drop-offs, state for positions) × ``partition``. Each worker owns its partitions'
  devices, so each writes its own partial; ``sum()`` over the ``partition`` tag gives the total.
  Fields: ``count``, ``devices`` (distinct devices), every summed value, and ``{x}_min``,
  ``{x}_max``, ``{x}_sum``, ``{x}_count`` of each statistic (mean = sum / count).
* ``{kind}_device_1m``: per device: ``count``, sums, ``{x}_min``, ``{x}_max``, ``{x}_mean``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from streams.lineproto import FieldValue, escape_measurement, line, line_of
from streams.measurements import Number
from streams.points import NS_PER_MS

__all__ = [
    "WINDOW_MS",
    "Agg",
    "Tags",
    "device_line",
    "group_line",
    "is_late",
    "join_split",
    "split_split",
    "window_start",
]

WINDOW_MS = 60_000
Tags = tuple[tuple[str, str], ...]


def window_start(ts_ms: int) -> int:
    return ts_ms - ts_ms % WINDOW_MS


def is_late(ts_ms: int, received_ms: int, lateness_ms: int) -> bool:
    """True when the event arrived after its window closed for good."""
    return received_ms > window_start(ts_ms) + WINDOW_MS + lateness_ms


@lru_cache(maxsize=4096)
def join_split(kind: str, split: Tags) -> str:
    """A compact key for (kind, split tags); values come from closed sets without ``|``/``=``."""
    return "|".join([kind, *(f"{k}={v}" for k, v in split)])


@lru_cache(maxsize=4096)
def split_split(key: str) -> tuple[str, Tags]:
    kind, *pairs = key.split("|")
    return kind, tuple((k, v) for k, _, v in (p.partition("=") for p in pairs))


@dataclass
class Agg:
    """Count, sums and (sum, min, max, n) statistics of the events in one window."""

    count: int = 0
    sums: dict[str, Number] = field(default_factory=dict)
    stats: dict[str, list[float]] = field(default_factory=dict)

    def add(self, sums: Mapping[str, Number], stats: Mapping[str, float]) -> None:
        self.count += 1
        own = self.sums
        for name, value in sums.items():
            own[name] = own.get(name, 0) + value
        for name, value in stats.items():
            s = self.stats.get(name)
            if s is None:
                self.stats[name] = [value, value, value, 1.0]
            else:
                s[0] += value
                s[1] = min(s[1], value)
                s[2] = max(s[2], value)
                s[3] += 1

    def merge(self, other: Agg) -> None:
        self.count += other.count
        for name, value in other.sums.items():
            self.sums[name] = self.sums.get(name, 0) + value
        for name, o in other.stats.items():
            s = self.stats.get(name)
            if s is None:
                self.stats[name] = list(o)
            else:
                self.stats[name] = [s[0] + o[0], min(s[1], o[1]), max(s[2], o[2]), s[3] + o[3]]

    def dump(self) -> list[Any]:
        return [self.count, self.sums, self.stats]

    @classmethod
    def load(cls, data: list[Any]) -> Agg:
        count, sums, stats = data
        return cls(count, dict(sums), {k: list(v) for k, v in stats.items()})


def _sums_fields(agg: Agg) -> dict[str, FieldValue | None]:
    fields: dict[str, FieldValue | None] = {"count": agg.count}
    fields.update(agg.sums)
    return fields


def group_line(
    kind: str, tags: Iterable[tuple[str, str]], window: int, agg: Agg, devices: int
) -> str:
    """``{kind}_1m`` of one group (tags include the split tags and ``partition``)."""
    fields = _sums_fields(agg)
    fields["devices"] = devices
    for name, (total, low, high, n) in agg.stats.items():
        fields[f"{name}_min"] = low
        fields[f"{name}_max"] = high
        fields[f"{name}_sum"] = total
        fields[f"{name}_count"] = int(n)
    return line(f"{kind}_1m", sorted(tags), fields, window * NS_PER_MS)


def device_line(kind: str, device_tag_text: str, window: int, agg: Agg) -> str:
    """``{kind}_device_1m`` of one device (``device_tag_text``: its escaped tags, ``device``
    included: ``DeviceState.tag_text``)."""
    fields = _sums_fields(agg)
    for name, (total, low, high, n) in agg.stats.items():
        fields[f"{name}_min"] = low
        fields[f"{name}_max"] = high
        fields[f"{name}_mean"] = total / n
    key = escape_measurement(f"{kind}_device_1m") + device_tag_text
    return line_of(key, fields, window * NS_PER_MS)
