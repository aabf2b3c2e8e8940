"""Liveness and readiness of a long-running process, served beside its Prometheus metrics.

:class:`ProbeServer` serves ``/healthz``, ``/readyz`` and the metrics on one port; the collector
and the streams worker each run one (collectors/probes.py, streams/probes.py say what they
check). ``python -m core.probes`` is the container image's health check.
"""

from core.probes.server import HEALTH_PATH, READY_PATH, Heartbeat, ProbeServer, ReadyCheck

__all__ = ["HEALTH_PATH", "READY_PATH", "Heartbeat", "ProbeServer", "ReadyCheck"]
