"""Fixtures of the schemas unit tests: a fixed receive time; no servers, no I/O beyond files."""

from __future__ import annotations

from datetime import datetime

import pytest
from schemas_testkit import RECEIVED_AT


@pytest.fixture
def received_at() -> datetime:
    """The collector's receive time that suits the golden examples."""
    return RECEIVED_AT
