"""Device health (pure): online or not, age of the last message, online counts per area.

A device is *offline* when its last status said offline (its MQTT last will, or a clean
shutdown) or when nothing arrived for three expected intervals. The interval comes from the
envelope's enrichment (the collector's registry), else from ``default_expected_interval_s``.
Age is measured on the platform's clock: now minus the collector's receive time of the device's
newest message. Clock skew (``skew_p50_ms``, ``skew_p99_ms``: receive time minus device time over
the device's last messages, :mod:`streams.skew`) is left out until the device sent a sample.

Points are stamped at ``now`` rounded down to the health interval, so a worker that restarts
inside one interval rewrites the same points instead of adding new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from streams.lineproto import line, line_of
from streams.points import NS_PER_MS
from streams.skew import skew_quantiles
from streams.state import DeviceState, PartitionState

__all__ = ["MISSED_INTERVALS", "health_lines", "is_online"]

MISSED_INTERVALS = 3
_MS = 1000


def is_online(dev: DeviceState, now_ms: int, interval_s: int) -> bool:
    if dev.will_offline:
        return False
    return now_ms - dev.last_rx_ms <= MISSED_INTERVALS * interval_s * _MS


def health_lines(
    partitions: Iterable[PartitionState],
    *,
    now_ms: int,
    tick_ms: int,
    interval_for: Callable[[DeviceState], int],
) -> list[str]:
    """``device_health`` per device and ``devices_online`` per district × facility × partition."""
    ts = (now_ms - now_ms % tick_ms) * NS_PER_MS
    lines: list[str] = []
    for part in partitions:
        areas: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for dev in part.devices.values():
            interval = interval_for(dev)
            online = is_online(dev, now_ms, interval)
            skew = skew_quantiles(dev.skew)
            lines.append(
                line_of(
                    "device_health" + dev.tag_text,
                    {
                        "online": online,
                        "age_s": max(0.0, (now_ms - dev.last_rx_ms) / _MS),
                        "expected_interval_s": interval,
                        "seq_gaps": dev.seq.gaps,
                        "duplicates": dev.seq.duplicates,
                        "resets": dev.seq.resets,
                        "late": dev.late,
                        "skew_p50_ms": None if skew is None else skew[0],
                        "skew_p99_ms": None if skew is None else skew[1],
                    },
                    ts,
                )
            )
            area = tuple(
                (k, v) for k, v in dev.tags if k in ("district", "district_name", "facility")
            )
            counts = areas.setdefault(area, [0, 0])
            counts[0] += online
            counts[1] += 1
        for area, (online_n, total) in areas.items():
            tags = sorted((*area, ("partition", str(part.partition))))
            lines.append(
                line(
                    "devices_online",
                    tags,
                    {"online": online_n, "offline": total - online_n, "total": total},
                    ts,
                )
            )
    return lines
