"""Golden examples: valid wire payloads, their envelopes, and invalid payloads by reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from schemas_testkit import GOLDEN, RECEIVED_AT, topic_for

from schemas import MESSAGE_TYPES, Rejected, RejectReason, decode, message_type, parse_topic
from schemas.examples import EXAMPLES, NMEA_EXAMPLE
from schemas.export import json_schemas

KINDS = [mt.kind for mt in MESSAGE_TYPES]
INVALID = sorted((GOLDEN / "invalid").glob("*.json"))
NMEA_RECEIVED_AT = datetime(2018, 9, 29, 7, 23, 55, tzinfo=UTC)


def _json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", KINDS)
def test_golden_valid_file_is_the_canonical_example(kind: str) -> None:
    """Each message type has a golden file, identical to the example the docs and export use."""
    assert _json(GOLDEN / "valid" / f"{kind}.json") == EXAMPLES[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_golden_valid_file_matches_its_json_schema(kind: str) -> None:
    """Each golden payload validates against its exported JSON Schema."""
    schema = json_schemas()[kind]
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(_json(GOLDEN / "valid" / f"{kind}.json"))


@pytest.mark.parametrize("kind", KINDS)
def test_golden_valid_file_decodes_to_golden_envelope(kind: str) -> None:
    """decode() turns each golden payload into exactly the golden envelope JSON."""
    mt = next(m for m in MESSAGE_TYPES if m.kind == kind)
    payload = (GOLDEN / "valid" / f"{kind}.json").read_bytes()
    env = decode(
        topic_for(mt.facilities[0].value, mt.channel.value), payload, received_at=RECEIVED_AT
    )
    assert json.loads(env.model_dump_json()) == _json(GOLDEN / "envelopes" / f"{kind}.json")


def test_golden_nmea_decodes_to_golden_envelope() -> None:
    """The golden NMEA epoch decodes to the golden NMEA envelope."""
    payload = (GOLDEN / "valid" / "mobility_position_nmea.txt").read_bytes()
    assert payload.decode() == NMEA_EXAMPLE
    env = decode(topic_for("mobility", "position"), payload, received_at=NMEA_RECEIVED_AT)
    expected = _json(GOLDEN / "envelopes" / "mobility_position_nmea.json")
    assert json.loads(env.model_dump_json()) == expected


def test_golden_invalid_cover_every_device_side_reason() -> None:
    """Every reason decode() can raise has at least one golden file (too_large is generated)."""
    reasons = {p.name.split("--")[0] for p in INVALID}
    collector_only = {
        RejectReason.UNKNOWN_DEVICE,
        RejectReason.RATE_LIMITED,
        RejectReason.WRONG_VENDOR,
        RejectReason.WRONG_FACILITY,
    }
    assert reasons == {r.value for r in RejectReason} - collector_only - {"too_large"}


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_golden_invalid_rejected_with_reason_in_name(path: Path) -> None:
    """Each invalid golden file is rejected with the reason its name starts with."""
    case = _json(path)
    assert isinstance(case, dict)
    payload = (
        bytes.fromhex(case["payload_hex"]) if "payload_hex" in case else case["payload"].encode()
    )
    with pytest.raises(Rejected) as info:
        decode(case["topic"], payload, received_at=RECEIVED_AT)
    assert info.value.reason.value == path.name.split("--")[0]


@pytest.mark.parametrize(
    "path",
    [p for p in INVALID if p.name.startswith("invalid_field--")],
    ids=lambda p: p.stem,
)
def test_golden_invalid_field_also_fails_json_schema(path: Path) -> None:
    """What decode() calls invalid_field, the exported JSON Schema refuses too."""
    case = _json(path)
    assert isinstance(case, dict)
    topic = parse_topic(case["topic"])
    schema = json_schemas()[message_type(topic.facility, topic.channel).kind]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(json.loads(case["payload"]))
