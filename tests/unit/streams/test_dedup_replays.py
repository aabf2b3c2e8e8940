"""Old messages the stream never saw, arriving after the device's newer ones (dead letters
replayed once the device is registered: ``cityiot deadletter replay``): new once, then
duplicates; no reset and no gap counted for them (streams/dedup.py)."""

from __future__ import annotations

from streams.dedup import SeqTracker, Verdict

MISSING_MAX = 1024
RESET_DISTANCE = 100_000
SECOND = 1_000
T0 = 1_764_547_200_000


def _check(t: SeqTracker, seq: int, ts: int, *, boot: bool = False) -> Verdict:
    return t.check_seq(
        seq, missing_max=MISSING_MAX, reset_distance=RESET_DISTANCE, ts_ms=ts, boot=boot
    )


def _old(t: SeqTracker) -> list[Verdict]:
    """The device's first ten messages: its boot status at seq 0, then seq 1..9."""
    return [_check(t, 0, T0, boot=True)] + [_check(t, s, T0 + s * SECOND) for s in range(1, 10)]


def _live(t: SeqTracker, first: int, n: int) -> list[Verdict]:
    return [_check(t, s, T0 + s * SECOND) for s in range(first, first + n)]


def test_dedup_replayed_old_messages_after_newer_ones_are_new_once() -> None:
    """Seq 10..19 seen first (the device registered), then its dead-lettered seq 0..9 replayed,
    twice: new the first time, duplicates the second; later messages still new."""
    t = SeqTracker()
    assert set(_live(t, 10, 10)) == {Verdict.NEW}
    assert set(_old(t)) == {Verdict.NEW}
    assert set(_old(t)) == {Verdict.DUPLICATE}
    assert set(_live(t, 20, 5)) == {Verdict.NEW}
    assert set(_live(t, 15, 5)) == {Verdict.DUPLICATE}  # redeliveries of the newer ones
    assert (t.resets, t.gaps, t.duplicates) == (0, 0, 15)


def test_dedup_replay_before_newer_messages_is_the_same() -> None:
    """The replay first, the newer messages after: the same verdicts, nothing counted twice."""
    t = SeqTracker()
    assert set(_old(t)) == {Verdict.NEW}
    assert set(_live(t, 10, 10)) == {Verdict.NEW}
    assert set(_old(t)) == {Verdict.DUPLICATE}
    assert (t.resets, t.gaps, t.duplicates) == (0, 0, 10)


def test_dedup_replayed_gap_of_a_known_device_fills_it() -> None:
    """A message dead-lettered between two stored ones is a remembered gap: new once."""
    t = SeqTracker()
    _live(t, 0, 5)
    _live(t, 6, 5)
    assert t.gaps == 1
    assert _check(t, 5, T0 + 5 * SECOND) is Verdict.NEW
    assert _check(t, 5, T0 + 5 * SECOND) is Verdict.DUPLICATE
    assert (t.resets, t.gaps) == (0, 0)


def test_dedup_reboot_after_a_replay_is_still_recognised() -> None:
    """After the replay, a real reboot (boot status, later time) starts a new boot; the replayed
    run stays known: its messages and its boot status repeated are duplicates, not a reboot."""
    t = SeqTracker()
    _live(t, 10, 10)
    _old(t)
    restart = T0 + 3_600 * SECOND
    assert _check(t, 0, restart, boot=True) is Verdict.NEW
    assert _check(t, 1, restart + SECOND) is Verdict.NEW
    assert set(_old(t)) == {Verdict.DUPLICATE}
    assert t.resets == 1


def test_dedup_replay_state_round_trips() -> None:
    """dump/load keeps what the replay taught the tracker."""
    t = SeqTracker()
    _live(t, 10, 10)
    _old(t)
    again = SeqTracker.load(t.dump())
    assert again == t
    assert set(_old(again)) == {Verdict.DUPLICATE}
