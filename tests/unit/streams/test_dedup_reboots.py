"""A device that reboots restarts its counter: nothing it sends after is a duplicate; a true
redelivery, before or after the reboot, still is (streams/dedup.py)."""

from __future__ import annotations

from streams.dedup import SeqTracker, Verdict

MISSING_MAX = 1024
RESET_DISTANCE = 100_000
MINUTE = 60_000
T0 = 1_764_547_200_000


def _check(t: SeqTracker, seq: int, ts: int, *, boot: bool = False) -> Verdict:
    return t.check_seq(
        seq, missing_max=MISSING_MAX, reset_distance=RESET_DISTANCE, ts_ms=ts, boot=boot
    )


def _day(t: SeqTracker, first_seq: int, start: int, n: int) -> list[Verdict]:
    return [_check(t, first_seq + i, start + i * MINUTE) for i in range(n)]


def test_dedup_reboot_after_days_keeps_everything() -> None:
    """1,440 messages a day for three days, a power cut, then seq from 0 again: all new."""
    t = SeqTracker()
    assert set(_day(t, 0, T0, 3 * 1440)) == {Verdict.NEW}
    after = T0 + 3 * 1440 * MINUTE + 5 * MINUTE
    assert set(_day(t, 0, after, 3 * 1440)) == {Verdict.NEW}
    assert (t.resets, t.duplicates, t.gaps) == (1, 0, 0)


def test_dedup_redelivery_after_reboot_is_dropped() -> None:
    """The same (seq, time) again after the reboot, from either boot, is a duplicate."""
    t = SeqTracker()
    _day(t, 0, T0, 100)
    after = T0 + 200 * MINUTE
    _day(t, 0, after, 10)
    assert _check(t, 5, after + 5 * MINUTE) is Verdict.DUPLICATE  # this boot's
    assert _check(t, 42, T0 + 42 * MINUTE) is Verdict.DUPLICATE  # the previous boot's
    assert t.resets == 1
    assert t.duplicates == 2


def test_dedup_late_message_of_previous_boot_is_kept() -> None:
    """A message the device sent before its reboot that arrives only after it: new."""
    t = SeqTracker()
    _day(t, 0, T0, 100)  # seq 0..99
    after = T0 + 200 * MINUTE
    _day(t, 0, after, 3)
    assert _check(t, 100, T0 + 100 * MINUTE) is Verdict.NEW
    assert _check(t, 100, T0 + 100 * MINUTE) is Verdict.DUPLICATE


def test_dedup_boot_status_starts_a_new_boot_even_with_a_clock_gone_back() -> None:
    """A device without a clock that survives power cuts says so with reason boot."""
    t = SeqTracker()
    _day(t, 0, T0, 50)
    earlier = T0 + 10 * MINUTE  # clock restarted behind its last message
    assert _check(t, 0, earlier, boot=True) is Verdict.NEW
    assert _check(t, 1, earlier + 1) is Verdict.NEW
    assert _check(t, 0, earlier, boot=True) is Verdict.DUPLICATE  # the boot status redelivered
    assert t.resets == 1


def test_dedup_state_round_trips_with_boots() -> None:
    """dump/load keeps the boot, the previous boot and the reset count; old records load."""
    t = SeqTracker()
    _day(t, 0, T0, 20)
    _day(t, 0, T0 + 100 * MINUTE, 5)
    again = SeqTracker.load(t.dump())
    assert again == t
    old = {"max": 3, "miss": [], "gaps": 0, "dups": 0, "ts": []}
    assert SeqTracker.load(old).resets == 0


def test_dedup_clock_set_back_after_boot_keeps_the_new_boot() -> None:
    """A device that starts with its clock 3 min fast, sends its boot status, then syncs NTP:
    its next messages carry times before the boot status and are still new (not taken for the
    previous boot's); redeliveries of either boot are still dropped."""
    t = SeqTracker()
    _day(t, 0, T0, 100)  # seq 0..99, the newest at T0 + 99 min
    restart = T0 + 200 * MINUTE
    assert _check(t, 0, restart + 3 * MINUTE, boot=True) is Verdict.NEW
    synced = [_check(t, seq, restart + seq * 1000) for seq in range(1, 11)]
    assert set(synced) == {Verdict.NEW}
    assert _check(t, 5, restart + 5 * 1000) is Verdict.DUPLICATE  # this boot's, redelivered
    assert _check(t, 42, T0 + 42 * MINUTE) is Verdict.DUPLICATE  # the previous boot's
    assert _check(t, 11, restart + 4 * MINUTE) is Verdict.NEW  # the clock past the boot status
    assert (t.resets, t.duplicates, t.gaps) == (1, 2, 0)


def test_dedup_late_messages_of_previous_boot_stay_single() -> None:
    """Messages of the previous boot flushed after the reboot (a buffer kept across it) are new
    once; each redelivered after that is a duplicate."""
    t = SeqTracker()
    _day(t, 0, T0, 100)
    restart = T0 + 200 * MINUTE
    _day(t, 0, restart, 3)
    flushed = [_check(t, seq, T0 + seq * MINUTE) for seq in range(100, 110)]
    assert set(flushed) == {Verdict.NEW}
    again = [_check(t, seq, T0 + seq * MINUTE) for seq in range(100, 110)]
    assert set(again) == {Verdict.DUPLICATE}
    assert t.resets == 1
