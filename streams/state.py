"""A worker's state per Kafka partition (pure): devices, their open windows, group aggregates.

Everything that must survive a crash lives in one :class:`DeviceState` per device: its dedup
tracker, its counters, when it was last seen, and its own contribution to every open 1-minute
window. A device's messages all sit in one partition, so one record per device, written to the
state table's changelog after each batch, is atomic: it either includes an event in both its dedup
state and its window contributions, or in neither. The device's alert state
(:class:`streams.alerts.DeviceAlerts`) rides in the same record for the same reason: a replayed
batch meets an alert state that has seen exactly the events the dedup state has. The group
aggregates (district × facility ...) are a sum over the partition's devices, kept in memory and
rebuilt from the device records after a restart (:meth:`PartitionState.rebuild_groups`).

A device keeps its windows for the lateness and as much again (~21 at the defaults), but a
message changes one or two of them. So a window rests as the JSON of its record entry (bytes) and
is decoded into :class:`Agg` objects only while a batch changes it (:meth:`DeviceState.aggs`, then
:meth:`DeviceState.freeze`): a device record is written by splicing those bytes, not by
serialising every window again, and a window at rest costs one bytes object instead of a dozen
Python objects. At city scale (115,000 devices, a message each per 30 s to 2.5 min) this made
the dump of a record ~10× cheaper and the state in memory a third (bench/city.py).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import from_json, to_json

from streams.alerts.state import DeviceAlerts
from streams.dedup import SeqTracker
from streams.lineproto import tag_text
from streams.rollups import Agg, Tags, split_split
from streams.skew import dump_skew, load_skew

__all__ = [
    "DeviceState",
    "GroupAgg",
    "GroupKey",
    "PartitionState",
    "intern_tags",
    "state_key",
]

# (window start ms, kind, tags including split tags and partition)
GroupKey = tuple[int, str, Tags]


# One shared tuple per distinct device tags: a city has ~100,000 devices and a few hundred
# district × facility × vendor × asset type combinations.
_TAGS: dict[Tags, Tags] = {}


def intern_tags(tags: Tags) -> Tags:
    return _TAGS.setdefault(tags, tags)


def state_key(partition: int, device_id: str) -> bytes:
    """Table key: the partition prefix keeps each key in its own partition's changelog."""
    return f"{partition}:{device_id}".encode()


@dataclass(slots=True)
class DeviceState:
    device_id: str
    tags: Tags
    seq: SeqTracker = field(default_factory=SeqTracker)
    late: int = 0
    last_rx_ms: int = 0
    last_ts_ms: int = 0
    will_offline: bool = False
    expected_interval_s: int | None = None
    # window start → this device's aggregates in it, as the JSON of {split key: Agg.dump()}
    windows: dict[int, bytes] = field(default_factory=dict)
    # None until the alert engine first sees the device (or when the worker runs no rules).
    alerts: DeviceAlerts | None = None
    # Receive time minus device time of its last messages (streams/skew.py); None until the
    # first sample.
    skew: array[int] | None = None
    # The windows a batch is changing, decoded (aggs()); written back by freeze().
    _open: dict[int, dict[str, Agg]] = field(default_factory=dict)
    # The escaped tags of every series of the device (tag_text), computed once.
    _tag_text: str = ""

    @property
    def tag_text(self) -> str:
        """Escaped ``,tag=value...`` of ``device`` and :attr:`tags`, sorted: what every series
        of the device carries after its measurement (``lineproto.line_of``)."""
        if not self._tag_text:
            self._tag_text = tag_text(sorted((("device", self.device_id), *self.tags)))
        return self._tag_text

    def retag(self, tags: Tags) -> None:
        if tags != self.tags:
            self.tags = tags
            self._tag_text = ""

    def aggs(self, window: int) -> dict[str, Agg]:
        """The device's aggregates in ``window`` (split key → Agg), open for changes until
        :meth:`freeze`."""
        by_key = self._open.get(window)
        if by_key is None:
            raw = self.windows.get(window)
            by_key = self._open[window] = {} if raw is None else _load_window(raw)
        return by_key

    def freeze(self) -> None:
        """Write the open windows back as bytes (after a batch; before :meth:`dump`)."""
        for window, by_key in self._open.items():
            self.windows[window] = to_json({k: agg.dump() for k, agg in by_key.items()})
        self._open.clear()

    def dump(self) -> bytes:
        self.freeze()
        data: dict[str, Any] = {
            "id": self.device_id,
            "tags": self.tags,
            "seq": self.seq.dump(),
            "late": self.late,
            "rx": self.last_rx_ms,
            "ts": self.last_ts_ms,
            "off": self.will_offline,
            "iv": self.expected_interval_s,
        }
        if self.alerts is not None:
            data["al"] = self.alerts
        if self.skew is not None:
            data["sk"] = dump_skew(self.skew)
        # Rule states leave out what is unset (most of it): a third of the record otherwise.
        head = to_json(data, exclude_none=True)
        windows = b",".join(b'"%d":%b' % (w, raw) for w, raw in self.windows.items())
        return b'%b,"w":{%b}}' % (head[:-1], windows)

    @classmethod
    def load(cls, raw: bytes) -> DeviceState:
        data = from_json(raw)
        return cls(
            device_id=data["id"],
            tags=intern_tags(tuple((k, v) for k, v in data["tags"])),
            seq=SeqTracker.load(data["seq"]),
            late=data["late"],
            last_rx_ms=data["rx"],
            last_ts_ms=data["ts"],
            will_offline=data["off"],
            expected_interval_s=data["iv"],
            windows={int(w): to_json(by_key) for w, by_key in data["w"].items()},
            # Records written before alerts were wired in have no "al".
            alerts=DeviceAlerts.model_validate(data["al"]) if "al" in data else None,
            # Records written before skew was measured have no "sk".
            skew=load_skew(data.get("sk")),
        )

    def window_items(self) -> Iterator[tuple[int, dict[str, Agg]]]:
        """Every window with its aggregates, decoded apart from the state (a restart's
        rebuild)."""
        self.freeze()
        for window, raw in self.windows.items():
            yield window, _load_window(raw)

    def evict_windows(self, before: int) -> None:
        for w in [w for w in self.windows if w < before]:
            del self.windows[w]
        for w in [w for w in self._open if w < before]:
            del self._open[w]


def _load_window(raw: bytes) -> dict[str, Agg]:
    return {k: Agg.load(v) for k, v in from_json(raw).items()}


@dataclass
class GroupAgg:
    agg: Agg = field(default_factory=Agg)
    devices: set[str] = field(default_factory=set)


@dataclass
class PartitionState:
    partition: int
    devices: dict[str, DeviceState] = field(default_factory=dict)
    groups: dict[GroupKey, GroupAgg] = field(default_factory=dict)
    max_rx_ms: int = 0
    _group_tags: dict[tuple[str, Tags], tuple[str, Tags]] = field(default_factory=dict)

    def group_key(self, window: int, split_key: str, device_tags: Tags) -> GroupKey:
        cached = self._group_tags.get((split_key, device_tags))
        if cached is None:
            kind, split = split_split(split_key)
            tags = (*device_tags, *split, ("partition", str(self.partition)))
            cached = self._group_tags[(split_key, device_tags)] = (kind, tags)
        return (window, *cached)

    def rebuild_groups(self) -> None:
        """Recompute every group aggregate from the device records (after a restart)."""
        self.groups.clear()
        for dev in self.devices.values():
            self.max_rx_ms = max(self.max_rx_ms, dev.last_rx_ms)
            for window, by_key in dev.window_items():
                for split_key, agg in by_key.items():
                    key = self.group_key(window, split_key, dev.tags)
                    group = self.groups.setdefault(key, GroupAgg())
                    group.agg.merge(agg)
                    group.devices.add(dev.device_id)

    def evict_groups(self, before: int) -> None:
        for key in [k for k in self.groups if k[0] < before]:
            del self.groups[key]
