"""Faults mid-run: SIGKILL of the collector and of the streams worker; storage stays exact."""

from __future__ import annotations

import random
import signal
import time
from dataclasses import replace

from tests_e2e_support import RUN, explain, finish, start

from cityiot.local.platform import Platform, scrape


def _kill_and_restart(platform: Platform, name: str) -> None:
    child = platform.children.children[name]
    assert child.proc is not None
    child.proc.send_signal(signal.SIGKILL)
    child.proc.wait()
    if name == "collector":
        platform.start_collector()
    else:
        platform.start_stream()


def test_e2e_sigkill_collector_and_worker_still_exact(platform: Platform) -> None:
    """SIGKILL of the collector and of the streams worker at random moments: still exact."""
    rng = random.Random(2026)
    # Another seed than the clean run's: other devices, so one test cannot mask the other.
    start(platform, replace(RUN, seed=RUN.seed + 1))
    for name in ("collector", "stream"):
        time.sleep(rng.uniform(2.0, 4.0))
        _kill_and_restart(platform, name)
    result = finish(platform)
    assert result.exact, explain(result)
    assert scrape(platform.collector_metrics_port), "the restarted collector serves metrics"
