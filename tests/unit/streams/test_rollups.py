"""Windows, lateness and aggregates."""

from __future__ import annotations

from streams.rollups import WINDOW_MS, Agg, is_late, join_split, split_split, window_start


def test_window_start_is_minute_aligned() -> None:
    """Windows are [start, start + 60 s) of device time."""
    assert window_start(125_000) == 120_000
    assert window_start(120_000) == 120_000


def test_is_late_uses_receive_time_against_window_end() -> None:
    """Late = received after window end + allowed lateness."""
    lateness = 600_000
    assert not is_late(0, WINDOW_MS + lateness, lateness)
    assert is_late(0, WINDOW_MS + lateness + 1, lateness)


def test_agg_merge_equals_adding_all() -> None:
    """Merging two partial aggregates equals aggregating every event once."""
    a, b, whole = Agg(), Agg(), Agg()
    events = [({"fen": 100}, {"t": 5.0}), ({"fen": 250}, {"t": 9.0}), ({"fen": 50}, {"t": 1.0})]
    for i, (sums, stats) in enumerate(events):
        (a if i < 2 else b).add(sums, stats)
        whole.add(sums, stats)
    a.merge(b)
    assert a == whole
    assert whole.sums == {"fen": 400}
    assert whole.stats["t"] == [15.0, 1.0, 9.0, 3.0]
    assert Agg.load(whole.dump()) == whole


def test_split_key_round_trip() -> None:
    """Split keys encode kind and split tags reversibly."""
    key = join_split("vending_sale", (("outcome", "success"), ("payment", "wechat")))
    assert split_split(key) == ("vending_sale", (("outcome", "success"), ("payment", "wechat")))
