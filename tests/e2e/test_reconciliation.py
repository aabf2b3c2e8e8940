"""Simulator → Mosquitto → collector → Kafka → streams → InfluxDB: truth equals storage."""

from __future__ import annotations

from tests_e2e_support import RUN, explain, finish, start

from cityiot.local.platform import Platform


def test_e2e_seeded_run_is_exact(platform: Platform) -> None:
    """Seeded run with bad messages mixed in: storage equals truth, each bad one dead-lettered."""
    start(platform, RUN)
    result = finish(platform)
    assert result.exact, explain(result)
    assert result.lost == 0
    assert result.stored == result.valid
