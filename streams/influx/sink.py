"""The sink: chunked writes, retries with backoff, dead letters for lines InfluxDB refuses.

:meth:`Sink.write` returns only when every line is either written or refused: while InfluxDB is
unavailable it retries, doubling the delay up to a bound, for as long as it takes. The caller
(the batch handler) acks Kafka offsets only after it returns, so a worker facing a dead InfluxDB
stops consuming and committing, and picks up where it was once InfluxDB answers again.

A refused chunk (4xx) is split in halves until the refused lines are alone; those come back as
:class:`DeadLine` for the dead-letter topic. Lines that were fine are written again on the way,
which is harmless: points are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from core.influx import InfluxRejected, InfluxUnavailable
from streams.metrics import METRICS

__all__ = ["DeadLine", "Sink", "Writer"]

log = logging.getLogger(__name__)


class Writer(Protocol):
    """What the sink writes through: :class:`core.influx.V1Writer` or ``V2Writer``.

    ``write`` raises InfluxUnavailable (retry) or InfluxRejected (dead-letter), nothing else.
    """

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def write(self, lines: list[str]) -> None: ...


@dataclass(frozen=True)
class DeadLine:
    line: str
    status: int
    error: str


class Sink:
    def __init__(
        self, writer: Writer, *, chunk_lines: int, retry_initial_s: float, retry_max_s: float
    ) -> None:
        self.writer = writer
        self.chunk_lines = chunk_lines
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.available = True
        # Running totals for the platform_stats point (the Prometheus metrics are process-wide).
        self.lines_written = 0
        self.write_errors = 0

    async def write(self, lines: list[str]) -> list[DeadLine]:
        dead: list[DeadLine] = []
        for i in range(0, len(lines), self.chunk_lines):
            await self._write_chunk(lines[i : i + self.chunk_lines], dead)
        return dead

    async def write_once(self, lines: list[str]) -> bool:
        """One attempt per chunk, errors logged (health points: the next tick rewrites them).

        Returns whether every chunk was written.
        """
        for i in range(0, len(lines), self.chunk_lines):
            chunk = lines[i : i + self.chunk_lines]
            try:
                await self.writer.write(chunk)
            except (InfluxUnavailable, InfluxRejected) as exc:
                self.write_errors += 1
                log.warning("influxdb write skipped error=%r", str(exc))
                return False
            self.lines_written += len(chunk)
        return True

    async def _write_chunk(self, chunk: list[str], dead: list[DeadLine]) -> None:
        delay = self.retry_initial_s
        while True:
            started = time.perf_counter()
            try:
                await self.writer.write(chunk)
            except InfluxUnavailable as exc:
                self.write_errors += 1
                METRICS.influx_errors.labels(kind="unavailable").inc()
                if self.available:
                    log.warning("influxdb unavailable, pausing error=%r", str(exc))
                    self.available = False
                METRICS.influx_available.set(0)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            except InfluxRejected as exc:
                self.write_errors += 1
                METRICS.influx_errors.labels(kind="rejected").inc()
                if len(chunk) == 1:
                    dead.append(DeadLine(chunk[0], exc.status, exc.message))
                    return
                half = len(chunk) // 2
                await self._write_chunk(chunk[:half], dead)
                await self._write_chunk(chunk[half:], dead)
                return
            METRICS.influx_write_seconds.observe(time.perf_counter() - started)
            METRICS.influx_points.inc(len(chunk))
            self.lines_written += len(chunk)
            if not self.available:
                log.warning("influxdb available again, resuming")
                self.available = True
                METRICS.influx_available.set(1)
            return
