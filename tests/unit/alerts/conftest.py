"""Fixtures of the alert unit tests (builders live in ``alert_support``)."""

from __future__ import annotations

import pytest
from alert_support import EnvelopeFactory, make_envelope


@pytest.fixture
def envelope() -> EnvelopeFactory:
    """``envelope(kind, ts, seq, **fields)``: a valid envelope; facility follows the kind."""
    return make_envelope
