"""Streams: the Faust app turning city.events.v1 into raw points, roll-ups, health and alerts.

Start with :mod:`streams.app` (the worker top to bottom), then the pure core it drives:
:mod:`streams.processor` (a batch), :mod:`streams.dedup`, :mod:`streams.points`,
:mod:`streams.rollups`, :mod:`streams.health`, and the sink in :mod:`streams.influx`.
"""

from __future__ import annotations

__all__ = ["run_stream"]


def run_stream(*args: object, **kwargs: object) -> None:
    """Lazy alias of :func:`streams.worker.run_stream` (importing Faust is slow)."""
    from streams.worker import run_stream as _run

    _run(*args, **kwargs)  # type: ignore[arg-type]
