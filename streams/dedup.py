"""Dropping redelivered messages by (device_id, seq), and counting seq gaps (pure).

Per device the tracker keeps the highest seq seen and the seqs missing below it (up to a bound).
A new seq above the highest is accepted and any seqs it skipped become *gaps* (loss at the source,
until they turn up); a seq filling a remembered gap is accepted late and the gap count drops; the
highest seq again, or a seq below it that is not a remembered gap, is a duplicate. A seq far below
the highest (``reset_distance``) is a counter reset after a reboot: accepted, and tracking restarts.

NMEA fixes have no seq: their device time (ms) is their identity. The tracker keeps the newest
``NMEA_RECENT`` fix times; a fix older than all of them is dropped as a duplicate (a redelivery
arrives soon after its original, a genuinely new fix is not older than the last 256).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["NMEA_RECENT", "SeqTracker", "Verdict"]

NMEA_RECENT = 256


class Verdict(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"


@dataclass
class SeqTracker:
    """One device's dedup state; serialisable with :meth:`dump` / :meth:`load`."""

    max_seq: int | None = None
    missing: set[int] = field(default_factory=set)
    gaps: int = 0
    duplicates: int = 0
    recent_ts: list[int] = field(default_factory=list)

    def check_seq(self, seq: int, *, missing_max: int, reset_distance: int) -> Verdict:
        """Record ``seq`` and say whether it is new."""
        top = self.max_seq
        if top is None or seq > top:
            if top is not None and seq > top + 1:
                self.gaps += seq - top - 1
                first = max(top + 1, seq - missing_max)
                self.missing.update(range(first, seq))
                if len(self.missing) > missing_max:
                    # Forget the oldest gaps; they stay counted as lost.
                    for old in sorted(self.missing)[: len(self.missing) - missing_max]:
                        self.missing.discard(old)
            self.max_seq = seq
            return Verdict.NEW
        if seq in self.missing:
            self.missing.discard(seq)
            self.gaps -= 1
            return Verdict.NEW
        if top - seq > reset_distance:
            self.max_seq = seq
            self.missing.clear()
            return Verdict.NEW
        self.duplicates += 1
        return Verdict.DUPLICATE

    def check_ts(self, ts_ms: int) -> Verdict:
        """Record an NMEA fix time and say whether it is new."""
        recent = self.recent_ts
        if ts_ms in recent or (len(recent) >= NMEA_RECENT and ts_ms < recent[0]):
            self.duplicates += 1
            return Verdict.DUPLICATE
        recent.append(ts_ms)
        recent.sort()
        if len(recent) > NMEA_RECENT:
            del recent[0]
        return Verdict.NEW

    def dump(self) -> dict[str, Any]:
        return {
            "max": self.max_seq,
            "miss": sorted(self.missing),
            "gaps": self.gaps,
            "dups": self.duplicates,
            "ts": self.recent_ts,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> SeqTracker:
        return cls(
            max_seq=data["max"],
            missing=set(data["miss"]),
            gaps=data["gaps"],
            duplicates=data["dups"],
            recent_ts=list(data["ts"]),
        )
