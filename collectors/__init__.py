"""Collectors: MQTT → Kafka, acknowledging a message only once Kafka holds what it became.

Start with :func:`run_collector` (what ``cityiot collect`` calls), then :class:`Pipeline` (the pure
core: decode, enrich, route); the dead-letter record is :class:`schemas.DeadLetter`.
"""

from __future__ import annotations

from collectors.pipeline import Inbound, Pipeline, Routed
from collectors.service import Collector, CollectorError, build_pipeline, run_collector

__all__ = [
    "Collector",
    "CollectorError",
    "Inbound",
    "Pipeline",
    "Routed",
    "build_pipeline",
    "run_collector",
]
