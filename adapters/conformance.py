"""Conformance of an adapter: golden native payloads against the envelopes they must become.

A samples folder holds, per sample, the native payload as the device sends it (``NAME.json``,
raw bytes) and beside it ``NAME.expected.json``::

    {"topic": "city/vending/acme/VM-1/data",        # where the device publishes it
     "received_at": "2024-05-01T08:00:03Z",         # the collector's receive time to use
     "envelope": {...}}                             # the envelope it must become, exactly
    # or, for a payload that must be refused:
     "rejected": {"reason": "invalid_field", "field": "pay"}

Each sample is mapped and decoded as the collector does (:func:`~adapters.decode_adapted`,
without registry enrichment) and compared. Used by ``cityiot adapters test`` and the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adapters.adapter import Adapter, AdapterSet, decode_adapted
from schemas import Envelope, Rejected

__all__ = ["EXPECTED_SUFFIX", "SampleResult", "run_samples"]

EXPECTED_SUFFIX = ".expected.json"
# Differences named in one failure line; the rest are counted.
MAX_DIFFERENCES = 5


@dataclass(frozen=True, slots=True)
class SampleResult:
    """One sample's outcome; ``detail`` says what differed (or what it became, when it passed)."""

    name: str
    passed: bool
    detail: str


def run_samples(adapter: Adapter, samples: Path, *, prefix: str = "city") -> list[SampleResult]:
    """Run every sample in ``samples`` through ``adapter``, in name order.

    Raises:
        OSError: ``samples`` cannot be listed.
    """
    adapters = AdapterSet([adapter], prefix=prefix)
    payloads = sorted(
        p for p in samples.iterdir() if p.suffix == ".json" and not p.name.endswith(EXPECTED_SUFFIX)
    )
    return [_run(adapters, p) for p in payloads]


def _run(adapters: AdapterSet, payload_path: Path) -> SampleResult:
    name = payload_path.stem
    expected_path = payload_path.with_name(name + EXPECTED_SUFFIX)
    try:
        payload = payload_path.read_bytes()
        expected = json.loads(expected_path.read_text(encoding="utf-8"))
        topic = expected["topic"]
        received_at = datetime.fromisoformat(expected["received_at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return SampleResult(name, False, f"cannot read {expected_path.name}: {exc!r}")
    if received_at.utcoffset() is None:
        return SampleResult(name, False, f"{expected_path.name}: received_at needs an offset (Z)")
    try:
        match = adapters.match(topic)
        if match is None:
            return SampleResult(name, False, f"no rule matches topic {topic!r}")
        got: Envelope | Rejected = decode_adapted(match, payload, received_at=received_at)
    except Rejected as exc:
        got = exc
    if "rejected" in expected:
        return _compare_rejected(name, expected["rejected"], got)
    return _compare_envelope(name, expected.get("envelope"), got)


def _compare_rejected(name: str, want: Any, got: Envelope | Rejected) -> SampleResult:
    if isinstance(got, Envelope):
        return SampleResult(name, False, f"expected a rejection {want}, got an envelope")
    if not isinstance(want, dict):
        return SampleResult(name, False, "'rejected' must be {reason, field}")
    if (want.get("reason"), want.get("field")) != (got.reason.value, got.field):
        return SampleResult(name, False, f"expected {want}, got {got}")
    return SampleResult(name, True, str(got))


def _compare_envelope(name: str, want: Any, got: Envelope | Rejected) -> SampleResult:
    if isinstance(got, Rejected):
        return SampleResult(name, False, f"rejected: {got}")
    try:
        expected = Envelope.model_validate_json(json.dumps(want))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return SampleResult(name, False, f"expected envelope is not valid: {where}: {first['msg']}")
    differences = _diff(expected.model_dump(mode="json"), got.model_dump(mode="json"))
    if differences:
        shown = "; ".join(differences[:MAX_DIFFERENCES])
        more = len(differences) - MAX_DIFFERENCES
        return SampleResult(name, False, shown + (f"; and {more} more" if more > 0 else ""))
    return SampleResult(name, True, f"{got.body.kind} source_format={got.source_format}")


def _diff(want: Any, got: Any, at: str = "") -> list[str]:
    """Every path where ``got`` differs from ``want``: ``body.amount_fen: expected 350, got 35``."""
    if isinstance(want, dict) and isinstance(got, dict):
        out: list[str] = []
        for key in [*want, *(k for k in got if k not in want)]:
            path = f"{at}.{key}" if at else str(key)
            out += _diff(want.get(key, "<absent>"), got.get(key, "<absent>"), path)
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [
            d
            for i, (w, g) in enumerate(zip(want, got, strict=True))
            for d in _diff(w, g, f"{at}[{i}]")
        ]
    if want != got or type(want) is not type(got):
        return [f"{at}: expected {want!r}, got {got!r}"]
    return []
