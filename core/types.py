"""Types and limits shared by the settings and the contract (``schemas``), kept here so that the
settings can name them without importing the contract above them."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MAX_PAYLOAD_BYTES", "Severity"]

# 64 KiB: a device message is a few hundred bytes; anything near this is a firmware bug or an
# attack, and refusing it before parsing bounds what one message can cost.
MAX_PAYLOAD_BYTES = 65_536


class Severity(StrEnum):
    """How urgent an alert is; ordered, so endpoints can ask for ``min_severity``."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
