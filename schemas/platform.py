"""The fields of the ``platform_stats`` point: one streams worker's counters over one interval.

A contract with ``dashboards/`` (streams/README.md, "Platform points"): the Platform board sums
these fields, so their names and meaning change only on purpose. ``streams/platform.py`` builds
the point from this model; the field order here is the order in the line.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PlatformStats"]


class PlatformStats(BaseModel):
    """Counter deltas since the previous point InfluxDB accepted, and the events topic's lag.

    A failed write carries its deltas into the next point, so summing the points gives the
    totals. Deltas carry no lower bound: a stats point is written as computed, never refused,
    since a point lost to validation would hide the numbers that show something is wrong.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    events_in: int = Field(description="Records of the events topic, rejected ones included.")
    duplicates: int = Field(description="Redeliveries dropped by deduplication.")
    late: int = Field(description="Events past the allowed lateness of their window.")
    points_written: int = Field(
        description="Lines InfluxDB accepted: events, roll-ups, health, alerts, dead letters, "
        "stats."
    )
    write_errors: int = Field(description="Failed write requests, retried or split.")
    deadletters_in: int = Field(description="Records read from the dead-letter topic.")
    kafka_lag: int = Field(
        ge=0,
        description="Gauge: over this worker's partitions of the events topic, high watermark "
        "minus (last read offset + 1), from the latest fetch.",
    )
