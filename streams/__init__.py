"""Streams: the Faust app turning city.events.v1 into raw points, roll-ups, health and alerts.

Start with :mod:`streams.app` (the worker top to bottom), then the pure core it drives:
:mod:`streams.processor` (a batch), :mod:`streams.dedup`, :mod:`streams.points`,
:mod:`streams.rollups`, :mod:`streams.health`, and the sink in :mod:`streams.influx`.
"""

from __future__ import annotations

from streams.worker import run_stream

__all__ = ["run_stream"]
