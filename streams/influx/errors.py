"""Errors of the InfluxDB writers, sorted by what the sink does with them."""

from __future__ import annotations

from core.errors import CityiotError

__all__ = ["InfluxError", "InfluxRejected", "InfluxUnavailable"]


class InfluxError(CityiotError):
    """A write did not succeed."""


class InfluxUnavailable(InfluxError):
    """Retry later: 5xx, timeout, refused connection, missing auth. Nothing is acked meanwhile."""


class InfluxRejected(InfluxError):
    """InfluxDB refused the data itself (4xx: parse error, field type conflict, too large).

    Retrying the same lines cannot help: the sink isolates the bad lines and dead-letters them.
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"InfluxDB rejected the write: HTTP {status}: {message}")
