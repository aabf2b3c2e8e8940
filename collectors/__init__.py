"""Collectors: MQTT → Kafka, acknowledging a message only once Kafka holds what it became.

Start with :func:`run_collector` (what ``cityiot collect`` calls), then :class:`Pipeline` (the pure
core: decode, enrich, route) and :class:`DeadLetter` (the reject record).

Names are imported lazily: ``cityiot.settings`` imports ``collectors.settings``, and must not pull
in the service (a circular import) or schemas' shapely/numpy with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collectors.deadletter import DeadLetter
    from collectors.pipeline import Inbound, Pipeline, Routed
    from collectors.service import Collector, CollectorError, build_pipeline, run_collector
    from collectors.settings import CollectorSettings

__all__ = [
    "Collector",
    "CollectorError",
    "CollectorSettings",
    "DeadLetter",
    "Inbound",
    "Pipeline",
    "Routed",
    "build_pipeline",
    "run_collector",
]

_MODULES = {
    "Collector": "collectors.service",
    "CollectorError": "collectors.service",
    "CollectorSettings": "collectors.settings",
    "DeadLetter": "collectors.deadletter",
    "Inbound": "collectors.pipeline",
    "Pipeline": "collectors.pipeline",
    "Routed": "collectors.pipeline",
    "build_pipeline": "collectors.service",
    "run_collector": "collectors.service",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'collectors' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
