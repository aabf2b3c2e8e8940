"""The fields of the platform_stats point."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas import PlatformStats

COUNTERS = {
    "events_in": 15,
    "duplicates": 1,
    "late": 2,
    "points_written": 30,
    "write_errors": 0,
    "deadletters_in": 3,
}


def test_platform_stats_fields_in_point_order() -> None:
    """The fields, in the order of the line, are the documented contract with dashboards/."""
    stats = PlatformStats.model_validate(COUNTERS | {"kafka_lag": 7})
    assert list(stats.model_dump().items()) == [*COUNTERS.items(), ("kafka_lag", 7)]


@pytest.mark.parametrize(
    "changes",
    [{"kafka_lag": -1}, {"events_in": 1.5}, {"events_in": "15"}, {"kafka_lag": 0, "lag": 0}],
    ids=["negative-lag", "float", "text", "unknown-field"],
)
def test_platform_stats_refuses_bad_counters(changes: dict[str, Any]) -> None:
    """Integers only, a lag of at least 0, and no field the point does not have."""
    with pytest.raises(ValidationError):
        PlatformStats.model_validate(COUNTERS | {"kafka_lag": 0} | changes)


def test_platform_stats_keeps_negative_deltas() -> None:
    """A negative delta is written as computed, not refused (the point must not be lost)."""
    assert PlatformStats.model_validate(COUNTERS | {"late": -2, "kafka_lag": 0}).late == -2
