"""Dedup by (device, seq) and gap counting."""

from __future__ import annotations

from streams.dedup import NMEA_RECENT, SeqTracker, Verdict

KW = {"missing_max": 1024, "reset_distance": 100_000}


def test_seqtracker_drops_redelivery() -> None:
    """The same seq twice is one new message and one duplicate."""
    t = SeqTracker()
    assert t.check_seq(5, **KW) is Verdict.NEW
    assert t.check_seq(5, **KW) is Verdict.DUPLICATE
    assert t.duplicates == 1


def test_seqtracker_counts_gaps_and_late_fills() -> None:
    """Skipped seqs count as gaps until they arrive; then they are new and the gap closes."""
    t = SeqTracker()
    for seq in (1, 2, 5):
        t.check_seq(seq, **KW)
    assert t.gaps == 2
    assert t.check_seq(3, **KW) is Verdict.NEW
    assert t.gaps == 1
    assert t.check_seq(3, **KW) is Verdict.DUPLICATE
    assert t.check_seq(2, **KW) is Verdict.DUPLICATE


def test_seqtracker_accepts_counter_reset() -> None:
    """A seq far below the highest is a reboot, not a duplicate."""
    t = SeqTracker()
    t.check_seq(500_000, **KW)
    assert t.check_seq(1, **KW) is Verdict.NEW
    assert t.check_seq(2, **KW) is Verdict.NEW


def test_seqtracker_bounds_remembered_gaps() -> None:
    """Only the newest ``missing_max`` gaps are remembered; all stay counted."""
    t = SeqTracker()
    t.check_seq(0, missing_max=10, reset_distance=100_000)
    t.check_seq(100, missing_max=10, reset_distance=100_000)
    assert t.gaps == 99
    assert len(t.missing) == 10


def test_seqtracker_nmea_uses_fix_time() -> None:
    """NMEA fixes dedup by device time; one older than the remembered window is dropped."""
    t = SeqTracker()
    for ts in range(1000, 1000 + NMEA_RECENT):
        assert t.check_ts(ts) is Verdict.NEW
    assert t.check_ts(1000 + NMEA_RECENT - 1) is Verdict.DUPLICATE
    assert t.check_ts(10) is Verdict.DUPLICATE
    assert t.check_ts(5000) is Verdict.NEW


def test_seqtracker_dump_load_round_trip() -> None:
    """State survives its changelog encoding."""
    t = SeqTracker()
    for seq in (1, 4, 9):
        t.check_seq(seq, **KW)
    back = SeqTracker.load(t.dump())
    assert back == t
