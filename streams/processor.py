"""One batch of a partition's records → points and dirty device states (pure: no I/O, no clock).

For each record: decode the envelope (the ``schemas`` model, no second definition), drop it if
its (device_id, seq) was seen, else write its raw point, apply it to the device's alert rules
(changes and their ``alerts`` points join the batch) and, unless it is late, add it to its
device's and its group's 1-minute window (and, when it paid for something, to the city's
``consumption`` window by payment method). Then render the ``*_1m`` points of every window the
batch touched, recomputed from the full state so that a rewrite carries the whole window.

The caller writes the lines, publishes the alert changes, then persists the dirty devices, then
acks the records (app.py). :meth:`Processor.tick` runs the time-driven alert rules the same way.

Alerts are evaluated with ``now`` = the collector's receive time of the message, never the
wall clock, so a batch replayed after a crash yields the same changes with the same start times
(the same webhook idempotency keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from schemas import Envelope
from streams.alerts import Alert, AlertEngine, DeviceAlerts, alert_point
from streams.measurements import CONSUMPTION, MEASUREMENTS, Number
from streams.points import device_tags, raw_line
from streams.rollups import (
    WINDOW_MS,
    Agg,
    device_line,
    group_line,
    is_late,
    join_split,
    split_split,
    window_start,
)
from streams.skew import add_skew, samples_skew
from streams.state import DeviceState, GroupAgg, GroupKey, PartitionState, intern_tags

__all__ = ["BatchResult", "Processor", "Rejected"]

_EPOCH_MS_FACTOR = 1000


@dataclass(frozen=True)
class Rejected:
    """A record that is not a valid envelope (a bug upstream): dead-lettered, never retried."""

    partition: int
    offset: int
    error: str


@dataclass
class BatchResult:
    lines: list[str] = field(default_factory=list)
    dirty: set[tuple[int, str]] = field(default_factory=set)
    accepted: int = 0
    duplicates: int = 0
    late: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


@dataclass
class Processor:
    """Turns records into points against the state of the partitions this worker owns."""

    lateness_ms: int
    missing_max: int = 1024
    reset_distance: int = 100_000
    partitions: dict[int, PartitionState] = field(default_factory=dict)
    #: The alert rules; None runs none (the bench's pure-throughput mode, most unit tests).
    engine: AlertEngine | None = None

    @property
    def keep_ms(self) -> int:
        """How long a window stays in state after its end: the lateness, plus as much again
        (at least a minute) for collectors whose clocks or queues lag behind the others'."""
        return self.lateness_ms + max(self.lateness_ms, WINDOW_MS)

    def process(
        self, partition: int, records: Iterable[tuple[int, bytes]], result: BatchResult
    ) -> None:
        """Process one partition's ``(offset, value)`` records in offset order into ``result``."""
        part = self.partitions.setdefault(partition, PartitionState(partition))
        touched_groups: set[GroupKey] = set()
        touched_devices: set[tuple[str, int, str]] = set()
        for offset, value in records:
            try:
                env = Envelope.model_validate_json(value)
            except ValidationError as exc:
                result.rejected.append(Rejected(partition, offset, str(exc)))
                continue
            self._one(env, part, result, touched_groups, touched_devices)
        horizon = part.max_rx_ms - self.keep_ms - WINDOW_MS
        for key in touched_groups:
            group = part.groups[key]
            window, kind, tags = key
            result.lines.append(group_line(kind, tags, window, group.agg, len(group.devices)))
        for device_id, window, kind in touched_devices:
            dev = part.devices[device_id]
            total = Agg()
            for split_key, agg in dev.aggs(window).items():
                if split_split(split_key)[0] == kind:
                    total.merge(agg)
            result.lines.append(device_line(kind, dev.tag_text, window, total))
        for device_id in {d for d, _, _ in touched_devices}:
            dev = part.devices[device_id]
            dev.evict_windows(window_start(horizon))
            dev.freeze()
        part.evict_groups(window_start(horizon))

    def _one(
        self,
        env: Envelope,
        part: PartitionState,
        result: BatchResult,
        touched_groups: set[GroupKey],
        touched_devices: set[tuple[str, int, str]],
    ) -> None:
        device_id = env.device_id
        dev = part.devices.get(device_id)
        if dev is None:
            dev = part.devices[device_id] = DeviceState(device_id, intern_tags(device_tags(env)))
        elif not dev.windows:
            # Tags follow the registry, but only between windows: open windows keep their group.
            dev.retag(intern_tags(device_tags(env)))
        result.dirty.add((part.partition, device_id))
        if env.seq is None:
            verdict = dev.seq.check_ts(env.ts_ms)
        else:
            body = env.body
            verdict = dev.seq.check_seq(
                env.seq,
                missing_max=self.missing_max,
                reset_distance=self.reset_distance,
                ts_ms=env.ts_ms,
                boot=body.kind == "device_status" and getattr(body, "reason", None) == "boot",
            )
        if verdict == "duplicate":
            result.duplicates += 1
            return
        result.accepted += 1
        ts_ms = env.ts_ms
        rx_ms = int(env.received_at.timestamp() * _EPOCH_MS_FACTOR)
        dev.last_rx_ms = max(dev.last_rx_ms, rx_ms)
        dev.last_ts_ms = max(dev.last_ts_ms, ts_ms)
        part.max_rx_ms = max(part.max_rx_ms, rx_ms)
        if env.enrichment is not None and env.enrichment.expected_interval_s is not None:
            dev.expected_interval_s = env.enrichment.expected_interval_s
        body = env.body
        if body.kind == "device_status":
            dev.will_offline = getattr(body, "state", "online") == "offline"
        else:
            dev.will_offline = False
        if samples_skew(body.kind):
            # Accepted messages only: a redelivery repeats an old ts with a later receive time.
            dev.skew = add_skew(dev.skew, rx_ms - ts_ms)
        result.lines.append(raw_line(env, dev.tag_text))
        if self.engine is not None:
            self._alert(self.engine, env, dev, part.partition, result)
        spec = MEASUREMENTS[body.kind]
        if not spec.rollup:
            return
        # Late by its own receive time, or older than what this partition still keeps: a record
        # produced long after it was received (a replay) must not rebuild an evicted window from
        # itself alone and overwrite the stored total.
        evicted = window_start(ts_ms) < window_start(part.max_rx_ms - self.keep_ms - WINDOW_MS)
        if evicted or is_late(ts_ms, rx_ms, self.lateness_ms):
            dev.late += 1
            result.late += 1
            return
        window = window_start(ts_ms)
        split_key = join_split(body.kind, spec.split_tags(body))
        self._add(part, dev, window, split_key, spec.sums(body), spec.stats(body), touched_groups)
        touched_devices.add((device_id, window, body.kind))
        paid = spec.consumption(body)
        if paid is not None:
            # Kept in the device's windows like its own kind (so a restart rebuilds the group),
            # but never rendered per device: touched_devices names the device's own kind only.
            payment, fen = paid
            consumption = join_split(CONSUMPTION, (("payment", payment),))
            self._add(part, dev, window, consumption, {"amount_fen": fen}, {}, touched_groups)

    @staticmethod
    def _add(
        part: PartitionState,
        dev: DeviceState,
        window: int,
        split_key: str,
        sums: Mapping[str, Number],
        stats: Mapping[str, float],
        touched_groups: set[GroupKey],
    ) -> None:
        """Add one event to its device's and its group's window of ``split_key``."""
        by_key = dev.aggs(window)
        agg = by_key.get(split_key)
        if agg is None:
            agg = by_key[split_key] = Agg()
        agg.add(sums, stats)
        key = part.group_key(window, split_key, dev.tags)
        group = part.groups.get(key)
        if group is None:
            group = part.groups[key] = GroupAgg()
        group.agg.add(sums, stats)
        group.devices.add(dev.device_id)
        touched_groups.add(key)

    def _alert(
        self,
        engine: AlertEngine,
        env: Envelope,
        dev: DeviceState,
        partition: int,
        result: BatchResult,
    ) -> None:
        state = dev.alerts
        if state is None:
            state = dev.alerts = DeviceAlerts(device_id=dev.device_id, partition=partition)
        # In place: the device is dirty already (its dedup state moved), so it is persisted.
        for alert in engine.apply(state, env, env.received_at):
            result.alerts.append(alert)
            result.lines.append(alert_point(alert))

    def tick(self, now: datetime, result: BatchResult) -> None:
        """Absence and offline rules of every device this worker owns, at ``now``.

        Only devices whose alert state changed (an alert fired, a removed rule's state went)
        become dirty: a quiet tick writes no changelog record.
        """
        if self.engine is None:
            return
        for part in self.partitions.values():
            for dev in part.devices.values():
                if dev.alerts is None:
                    continue
                changes, changed = self.engine.apply_tick(dev.alerts, now)
                if changed:
                    result.dirty.add((part.partition, dev.device_id))
                for alert in changes:
                    result.alerts.append(alert)
                    result.lines.append(alert_point(alert))
