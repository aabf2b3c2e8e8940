"""End-to-end fixtures: the platform's own processes on the session's real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cityiot.local.platform import Platform
from core.settings import Settings


@pytest.fixture
def platform(settings: Settings, tmp_path: Path) -> Iterator[Platform]:
    """Collector, streams worker and simulator as children; stopped even when the test fails."""
    running = Platform(settings, tmp_path / "platform")
    try:
        yield running
    finally:
        running.stop()
