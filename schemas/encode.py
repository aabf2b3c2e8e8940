"""``encode``: a body → the flat JSON a device publishes (the simulator's and the tests' side)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from schemas.common import SCHEMA_VERSION, Body

__all__ = ["encode", "format_ts"]


def format_ts(ts: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision, e.g. ``2025-05-01T00:30:00.123Z``."""
    if ts.tzinfo is None:
        raise ValueError("ts must be timezone-aware")
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(body: Body, *, ts: datetime | int, seq: int, v: int | None = SCHEMA_VERSION) -> bytes:
    """Wire payload for ``body``: ``{"ts", "seq", "v", <payload fields>}``, UTF-8, compact.

    ``ts`` is a datetime (sent as RFC 3339) or integer epoch milliseconds (sent as is). Fields
    left at None are omitted, as a frugal device would.
    """
    header: dict[str, object] = {"ts": ts if isinstance(ts, int) else format_ts(ts), "seq": seq}
    if v is not None:
        header["v"] = v
    fields = body.model_dump(mode="json", exclude={"kind"}, exclude_none=True)
    return json.dumps({**header, **fields}, ensure_ascii=False, separators=(",", ":")).encode()
