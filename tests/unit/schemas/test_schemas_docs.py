"""docs/vendors.md stays true: its examples are the canonical ones, its reasons the real ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

from schemas import MESSAGE_TYPES, RejectReason
from schemas.decode import MAX_PAYLOAD_BYTES
from schemas.examples import EXAMPLES, NMEA_EXAMPLE

VENDORS_MD = Path(__file__).resolve().parents[3] / "docs" / "vendors.md"
EXAMPLE_BLOCK = re.compile(r"<!-- example: (\w+) -->\n```json\n(.*?)\n```", re.DOTALL)


def test_vendors_doc_examples_are_canonical() -> None:
    """Every message type has one example in the guide, equal to schemas.examples."""
    found = {kind: json.loads(body) for kind, body in EXAMPLE_BLOCK.findall(VENDORS_MD.read_text())}
    assert found == {mt.kind: EXAMPLES[mt.kind] for mt in MESSAGE_TYPES}


def test_vendors_doc_lists_every_reason_and_the_limits() -> None:
    """The reason table names every RejectReason; the NMEA example and size limit are current."""
    text = VENDORS_MD.read_text()
    for reason in RejectReason:
        assert f"| `{reason.value}` |" in text, reason
    for sentence in NMEA_EXAMPLE.splitlines():
        assert sentence in text
    assert str(MAX_PAYLOAD_BYTES) in text
    assert "city.deadletter.v1" in text
