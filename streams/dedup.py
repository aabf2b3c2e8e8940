"""Dropping redelivered messages by (device_id, seq, device time), and counting seq gaps (pure).

Per device the tracker keeps the highest seq seen, the seqs missing below it (up to a bound), and
the newest device time of its current *boot* (the run of messages since its counter last started
again). A new seq above the highest is accepted and any seqs it skipped become *gaps* (loss at the
source, until they turn up); a seq filling a remembered gap is accepted late and the gap count
drops. A seq at or below the highest that is no remembered gap is a redelivery, unless the device
restarted its counter (a power cut, a firmware update, a watchdog), which the tracker recognises by
any of three signs and then starts a new boot (counted in ``resets``):

- the message is a ``status`` with ``reason: boot`` (docs/vendors.md asks devices to send one as
  their first message after a start) that is not the first message of the current boot again;
- its device time is later than every message of the current boot: a redelivery carries its
  original time, never a later one;
- its seq is far below the highest (``reset_distance``): a device whose clock went back at reboot.

A message sent before the current boot began (device time earlier than its first message: late,
or redelivered) is judged against the previous boot's highest seq: at or below it, a duplicate.
Unless its device time is also later than every message of the previous boot: then it is this
boot's, sent after the clock went back, the usual first NTP sync of a device whose clock ran
ahead when it started (a message the device sent with a lower seq carried an earlier time).
A device whose clock goes back at reboot and whose counter restarts near its old value is not
recognised until it sends a boot status; docs/vendors.md says so.

A message older and lower than the current boot's first message, when no earlier boot is known,
was never seen: everything the tracker took has a seq at or above that first one. Such messages
arrive when dead letters of a device are replayed after its registration (``cityiot deadletter
replay``), its newer messages stored meanwhile. The first of them opens the previous boot, so
the rest of that run is taken by the rule above and its repeats are dropped. A boot status among
them is remembered (``old_boot``): repeated, it is old, no reboot.

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
    #: Newest device time (ms) of the current boot.
    max_ts: int | None = None
    #: (seq, device time) of the current boot's first message: its redelivery is no new boot.
    boot: tuple[int, int] | None = None
    #: Counter restarts seen (reboots).
    resets: int = 0
    #: (highest seq, newest device time) of the previous boot, for its late messages.
    prev: tuple[int, int] | None = None
    #: (seq, device time) of a boot status older than the first message the tracker saw (a
    #: replayed dead letter): its repeat is no new boot.
    old_boot: tuple[int, int] | None = None

    def check_seq(
        self,
        seq: int,
        *,
        missing_max: int,
        reset_distance: int,
        ts_ms: int | None = None,
        boot: bool = False,
    ) -> Verdict:
        """Record ``seq`` (sent at device time ``ts_ms``; ``boot``: a boot status) and say
        whether it is new."""
        if self._before_first(seq, ts_ms):
            assert ts_ms is not None
            self.prev = (seq, ts_ms)
            if boot:
                self.old_boot = (seq, ts_ms)
            return Verdict.NEW
        if self._from_previous_boot(seq, ts_ms, boot):
            assert self.prev is not None
            if seq <= self.prev[0]:
                self.duplicates += 1
                return Verdict.DUPLICATE
            assert ts_ms is not None
            # Its redelivery must fall on this side again: within the previous boot's times.
            self.prev = (seq, max(self.prev[1], ts_ms))
            return Verdict.NEW
        top = self.max_seq
        if top is not None and self._restarted(seq, top, ts_ms, boot, reset_distance):
            self.prev = (top, self.max_ts or 0)
            self.max_seq = top = None
            self.missing.clear()
            self.max_ts = None
            self.boot = None
            self.resets += 1
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
            self._seen(seq, ts_ms)
            return Verdict.NEW
        if seq in self.missing:
            self.missing.discard(seq)
            self.gaps -= 1
            self._seen(seq, ts_ms)
            return Verdict.NEW
        self.duplicates += 1
        return Verdict.DUPLICATE

    def _seen(self, seq: int, ts_ms: int | None) -> None:
        if ts_ms is None:
            return
        if self.boot is None:
            self.boot = (seq, ts_ms)
        if self.max_ts is None or ts_ms > self.max_ts:
            self.max_ts = ts_ms

    def _before_first(self, seq: int, ts_ms: int | None) -> bool:
        """Older and lower than the current boot's first message, no earlier boot known."""
        if self.prev is not None or self.boot is None or ts_ms is None:
            return False
        return ts_ms < self.boot[1] and seq < self.boot[0]

    def _from_previous_boot(self, seq: int, ts_ms: int | None, boot: bool) -> bool:
        """Sent before the current boot began (a late message or a redelivery of it)."""
        if boot or ts_ms is None or self.boot is None or self.prev is None:
            return False
        if ts_ms >= self.boot[1] or seq == self.boot[0]:
            return False
        # Earlier than this boot's start, yet later than the previous boot's newest message with
        # a seq the previous boot had passed: this boot's, after its clock was set back.
        return seq > self.prev[0] or ts_ms <= self.prev[1]

    def _restarted(
        self, seq: int, top: int, ts_ms: int | None, boot: bool, reset_distance: int
    ) -> bool:
        if boot:
            # A boot status starts a new boot, unless it is the current boot's first message
            # redelivered, or a replayed one older than the tracker's first message.
            return ts_ms is None or (seq, ts_ms) not in (self.boot, self.old_boot)
        if seq > top or seq in self.missing:
            return False
        if ts_ms is not None and self.max_ts is not None and ts_ms > self.max_ts:
            return True
        return top - seq > reset_distance

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
            "mts": self.max_ts,
            "boot": list(self.boot) if self.boot is not None else None,
            "resets": self.resets,
            "prev": list(self.prev) if self.prev is not None else None,
            "ob": list(self.old_boot) if self.old_boot is not None else None,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> SeqTracker:
        return cls(
            max_seq=data["max"],
            missing=set(data["miss"]),
            gaps=data["gaps"],
            duplicates=data["dups"],
            recent_ts=list(data["ts"]),
            # Records written before reboots were recognised lack these.
            max_ts=data.get("mts"),
            boot=(data["boot"][0], data["boot"][1]) if data.get("boot") else None,
            resets=data.get("resets", 0),
            prev=(data["prev"][0], data["prev"][1]) if data.get("prev") else None,
            old_boot=(data["ob"][0], data["ob"][1]) if data.get("ob") else None,
        )
