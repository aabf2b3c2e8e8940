"""Errors of the InfluxDB client, sorted by what the caller does with them.

Telegraf's rule: retry what may succeed later, drop what never will. :class:`InfluxUnavailable`
means "try again later" (nothing is acked meanwhile); :class:`InfluxRejected` means InfluxDB
refused the data itself; :class:`InfluxQueryError` means it refused a query. No message carries a
password or token: the client masks its own secrets in every text it puts in one.
"""

from __future__ import annotations

from core.errors import CityiotError

__all__ = [
    "AUTH_STATUSES",
    "RETRY_STATUSES",
    "InfluxAuthError",
    "InfluxError",
    "InfluxQueryError",
    "InfluxRejected",
    "InfluxUnavailable",
    "retryable",
]

# Auth and "database not found" are configuration or start-up states, not bad data: a retry
# succeeds once an operator fixes the token or the database exists. 408 and 429 say "later".
RETRY_STATUSES = frozenset({401, 403, 404, 408, 429})
# Who is asking (401: unknown user or wrong password) and what they may do (403: no grant).
AUTH_STATUSES = frozenset({401, 403})


def retryable(status: int) -> bool:
    """Whether an HTTP status from InfluxDB means "try again later" (5xx and RETRY_STATUSES)."""
    return status >= 500 or status in RETRY_STATUSES


class InfluxError(CityiotError):
    """InfluxDB did not do what was asked."""


class InfluxUnavailable(InfluxError):
    """Retry later: 5xx, 401/403/404/408/429, timeout, refused connection (401 and 403 as
    :class:`InfluxAuthError`)."""


class InfluxAuthError(InfluxUnavailable):
    """InfluxDB refused the credentials (401) or what they may do (403).

    Retried like any :class:`InfluxUnavailable` (an operator fixes the password or the grant, and
    no data is lost meanwhile), but its message says who was refused and what to check. ``who``
    names the user (``user 'cityiot-reader'``), never a password or token.
    """

    def __init__(self, status: int, who: str, message: str) -> None:
        self.status = status
        self.who = who
        self.message = message
        problem = "authentication failed" if status == 401 else "not authorized"
        super().__init__(
            f"InfluxDB refused {who} ({problem}): HTTP {status}: {message}; fix: check "
            "CITYIOT_INFLUXDB_USERNAME and _PASSWORD (or _TOKEN) and the user's privileges on "
            "the database"
        )


class InfluxRejected(InfluxError):
    """InfluxDB refused the data itself (4xx: parse error, field type conflict, too large).

    Retrying the same lines cannot help: the sink isolates the bad lines and dead-letters them
    with ``status`` and ``message`` (InfluxDB's answer, at most 500 characters).
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"InfluxDB rejected the write: HTTP {status}: {message}")


class InfluxQueryError(InfluxError):
    """InfluxDB refused a query (InfluxQL error, unknown database, 4xx); the query is named.

    ``status`` is the HTTP status: 200 when InfluxDB answered the error inside the result.
    """

    def __init__(self, query: str, status: int, message: str) -> None:
        self.query = query
        self.status = status
        self.message = message
        super().__init__(f"InfluxDB refused the query {query!r}: {message}")
