"""``python -m core.probes``: the container image's health check (the Dockerfile's HEALTHCHECK).

It asks the process in the same container for ``/healthz`` on its probe port: the collector's
``CITYIOT_COLLECTOR_METRICS_PORT`` or the streams worker's ``CITYIOT_STREAM_METRICS_PORT``, read
from the same environment the process got. Healthy when one of the ports that are set answers
200; with neither set (``simulate``, ``dashboards``, probes off) there is nothing to ask, and the
check passes. Exit code 0 healthy, 1 unhealthy (Docker's meanings), one line saying why.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from pydantic import ValidationError

from core.probes.server import HEALTH_PATH
from core.settings import Settings

__all__ = ["CHECK_TIMEOUT_S", "check", "main"]

# Below the Dockerfile's --timeout (5 s) with room for the interpreter's start.
CHECK_TIMEOUT_S = 3.0
# A server bound to every address is asked on loopback; one bound to an address, there.
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 (matched, not bound)


def _probe_targets(settings: Settings) -> list[tuple[str, int]]:
    targets = []
    if settings.collector.metrics_port:
        host = settings.collector.metrics_host
        targets.append((_WILDCARDS.get(host, host), settings.collector.metrics_port))
    if settings.stream.metrics_port:
        # The worker's server listens on every address.
        targets.append(("127.0.0.1", settings.stream.metrics_port))
    return targets


def _health(host: str, port: int, timeout_s: float) -> str | None:
    """None when ``/healthz`` answers 200, else why not."""
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        with urllib.request.urlopen(f"http://{netloc}{HEALTH_PATH}", timeout=timeout_s) as answer:
            return None if answer.status == 200 else f"status {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"status {exc.code}: {exc.read().decode(errors='replace').strip()}"
    except (OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc))


def check(settings: Settings, *, timeout_s: float = CHECK_TIMEOUT_S) -> tuple[bool, str]:
    """(healthy, one line): healthy when any probe port set answers ``/healthz`` with 200."""
    targets = _probe_targets(settings)
    if not targets:
        return True, "nothing to probe: no metrics port set"
    problems = []
    for host, port in targets:
        problem = _health(host, port, timeout_s)
        if problem is None:
            return True, f"healthy port={port}"
        problems.append(f"port={port} {problem}")
    return False, "unhealthy " + "; ".join(problems)


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:  # the process itself would not have started either
        print(f"unhealthy: settings do not validate ({exc.error_count()} errors)")
        return 1
    healthy, line = check(settings)
    print(line)
    return 0 if healthy else 1
