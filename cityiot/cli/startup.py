"""What a long-running command logs before it starts: the settings it really runs with."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from core.settings import Settings
from core.settings.describe import describe

__all__ = ["log_settings"]

# Its own logger at INFO: the commands' log levels govern their capability's lines, while these
# few lines are what an operator checks first, whatever the level.
log = logging.getLogger("cityiot.settings")
log.setLevel(logging.INFO)


def log_settings(settings: Settings, sections: Iterable[str]) -> None:
    """One INFO line per section of ``settings`` the command uses, secrets masked."""
    for line in describe(settings, sections):
        log.info("%s", line)
