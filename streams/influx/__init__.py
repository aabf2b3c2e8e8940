"""The InfluxDB sink: v1 ``/write`` (default) or the v2 write API, retries and dead letters."""

from __future__ import annotations

from streams.influx.errors import InfluxError, InfluxRejected, InfluxUnavailable
from streams.influx.sink import DeadLine, Sink, Writer
from streams.influx.v1 import V1Writer
from streams.influx.v2 import V2Writer

__all__ = [
    "DeadLine",
    "InfluxError",
    "InfluxRejected",
    "InfluxUnavailable",
    "Sink",
    "V1Writer",
    "V2Writer",
    "Writer",
]
