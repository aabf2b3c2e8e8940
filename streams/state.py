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
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import from_json, to_json

from streams.alerts.state import DeviceAlerts
from streams.dedup import SeqTracker
from streams.rollups import Agg, Tags, split_split
from streams.skew import dump_skew, load_skew

__all__ = ["DeviceState", "GroupAgg", "GroupKey", "PartitionState", "state_key"]

# (window start ms, kind, tags including split tags and partition)
GroupKey = tuple[int, str, Tags]


def state_key(partition: int, device_id: str) -> bytes:
    """Table key: the partition prefix keeps each key in its own partition's changelog."""
    return f"{partition}:{device_id}".encode()


@dataclass
class DeviceState:
    device_id: str
    tags: Tags
    seq: SeqTracker = field(default_factory=SeqTracker)
    late: int = 0
    last_rx_ms: int = 0
    last_ts_ms: int = 0
    will_offline: bool = False
    expected_interval_s: int | None = None
    # window start → split key (kind|tag=value...) → this device's aggregate
    windows: dict[int, dict[str, Agg]] = field(default_factory=dict)
    # None until the alert engine first sees the device (or when the worker runs no rules).
    alerts: DeviceAlerts | None = None
    # Receive time minus device time of its last messages (streams/skew.py); None until the
    # first sample.
    skew: array[int] | None = None

    def dump(self) -> bytes:
        data: dict[str, Any] = {
            "id": self.device_id,
            "tags": self.tags,
            "seq": self.seq.dump(),
            "late": self.late,
            "rx": self.last_rx_ms,
            "ts": self.last_ts_ms,
            "off": self.will_offline,
            "iv": self.expected_interval_s,
            "w": {
                str(w): {k: agg.dump() for k, agg in by_key.items()}
                for w, by_key in self.windows.items()
            },
        }
        if self.alerts is not None:
            data["al"] = self.alerts
        if self.skew is not None:
            data["sk"] = dump_skew(self.skew)
        return to_json(data)

    @classmethod
    def load(cls, raw: bytes) -> DeviceState:
        data = from_json(raw)
        return cls(
            device_id=data["id"],
            tags=tuple((k, v) for k, v in data["tags"]),
            seq=SeqTracker.load(data["seq"]),
            late=data["late"],
            last_rx_ms=data["rx"],
            last_ts_ms=data["ts"],
            will_offline=data["off"],
            expected_interval_s=data["iv"],
            windows={
                int(w): {k: Agg.load(v) for k, v in by_key.items()}
                for w, by_key in data["w"].items()
            },
            # Records written before alerts were wired in have no "al".
            alerts=DeviceAlerts.model_validate(data["al"]) if "al" in data else None,
            # Records written before skew was measured have no "sk".
            skew=load_skew(data.get("sk")),
        )

    def evict_windows(self, before: int) -> None:
        for w in [w for w in self.windows if w < before]:
            del self.windows[w]


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
            for window, by_key in dev.windows.items():
                for split_key, agg in by_key.items():
                    key = self.group_key(window, split_key, dev.tags)
                    group = self.groups.setdefault(key, GroupAgg())
                    group.agg.merge(agg)
                    group.devices.add(dev.device_id)

    def evict_groups(self, before: int) -> None:
        for key in [k for k in self.groups if k[0] < before]:
            del self.groups[key]
