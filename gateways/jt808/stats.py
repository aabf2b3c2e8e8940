"""The gateway's counters, summarised in the log (one line a minute) and read by the tests.

Plain ints and Counters bumped on the event loop's thread only, so no lock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["GatewayStats", "summary_line"]


@dataclass
class GatewayStats:
    """Counters of one gateway process since its start."""

    connections: int = 0
    #: Closed at once: ``max_connections`` were open.
    refused: int = 0
    #: Connections ended, by why (idle_timeout, connection_lost, logout, bad_frames, ...).
    closed: Counter[str] = field(default_factory=Counter)
    #: Valid frames, by message (heartbeat, location, ...).
    received: Counter[str] = field(default_factory=Counter)
    #: Frames refused, by FrameReason.
    rejected: Counter[str] = field(default_factory=Counter)
    #: Registration answers, by result (success, no_terminal).
    registrations: Counter[str] = field(default_factory=Counter)
    auth_failures: int = 0
    #: Messages refused because the connection had not authenticated.
    unauthenticated: int = 0
    #: Reports the broker acknowledged (``reports_repeated`` of them retransmissions).
    reports: int = 0
    reports_repeated: int = 0
    #: Messages the broker did not acknowledge within ``publish_timeout_s``.
    publish_timeouts: int = 0

    @property
    def open(self) -> int:
        return self.connections - self.refused - sum(self.closed.values())


def summary_line(stats: GatewayStats) -> str:
    """key=value counters for the periodic log line."""
    rejected = ",".join(f"{k}:{v}" for k, v in sorted(stats.rejected.items())) or "0"
    closed = ",".join(f"{k}:{v}" for k, v in sorted(stats.closed.items())) or "0"
    return (
        f"open={stats.open} connections={stats.connections} refused={stats.refused} "
        f"reports={stats.reports} repeated={stats.reports_repeated} "
        f"publish_timeouts={stats.publish_timeouts} auth_failures={stats.auth_failures} "
        f"unauthenticated={stats.unauthenticated} rejected={rejected} closed={closed}"
    )
