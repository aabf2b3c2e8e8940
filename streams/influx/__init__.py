"""The InfluxDB sink: chunked writes through :mod:`core.influx`, retries and dead letters."""

from __future__ import annotations

from streams.influx.sink import DeadLine, Sink, Writer

__all__ = ["DeadLine", "Sink", "Writer"]
