"""The one InfluxDB client of cityiot: writes (v1 ``/write``, or the v2 API) and InfluxQL reads.

Build an :class:`InfluxTarget` from the settings (:meth:`InfluxTarget.from_settings`), query it
(:meth:`InfluxTarget.query`), or hand it to a writer (:class:`V1Writer`, :class:`V2Writer`).
Every failure is an :class:`InfluxError`: :class:`InfluxUnavailable` (retry later; refused
credentials as :class:`InfluxAuthError`), :class:`InfluxRejected` (the data is bad) or
:class:`InfluxQueryError` (the query is refused).
"""

from __future__ import annotations

from core.influx.errors import (
    AUTH_STATUSES,
    RETRY_STATUSES,
    InfluxAuthError,
    InfluxError,
    InfluxQueryError,
    InfluxRejected,
    InfluxUnavailable,
    retryable,
)
from core.influx.target import Epoch, InfluxTarget, quote_identifier
from core.influx.v1_writer import V1Writer
from core.influx.v2_writer import V2Writer

__all__ = [
    "AUTH_STATUSES",
    "RETRY_STATUSES",
    "Epoch",
    "InfluxAuthError",
    "InfluxError",
    "InfluxQueryError",
    "InfluxRejected",
    "InfluxTarget",
    "InfluxUnavailable",
    "V1Writer",
    "V2Writer",
    "quote_identifier",
    "retryable",
]
