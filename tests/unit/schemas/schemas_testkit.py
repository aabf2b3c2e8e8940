"""Helpers shared by the schemas unit tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.examples import EXAMPLE_DEVICE_IDS, EXAMPLE_VENDORS, EXAMPLES

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
DATA = Path(__file__).resolve().parent / "data"
# The golden examples are stamped 2025-05-01 around 12:05 Beijing time.
RECEIVED_AT = datetime(2025, 5, 1, 4, 6, 0, tzinfo=UTC)


def topic_for(facility: str, channel: str, *, device_id: str | None = None) -> str:
    """The example topic of a facility/channel."""
    device = device_id or EXAMPLE_DEVICE_IDS[facility]
    return f"city/{facility}/{EXAMPLE_VENDORS[facility]}/{device}/{channel}"


def wire(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as a device sends it."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def example(kind: str, **changes: Any) -> dict[str, Any]:
    """A copy of the canonical example of ``kind`` with some fields changed."""
    return {**EXAMPLES[kind], **changes}
