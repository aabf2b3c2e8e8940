"""source_format: json, nmea, or adapter:<name>, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from schemas_testkit import example, topic_for, wire

from schemas import Envelope, decode
from schemas.examples import NMEA_EXAMPLE

# The NMEA example's fix is of 2018-09-29 07:23:53 UTC.
NMEA_RECEIVED_AT = datetime(2018, 9, 29, 7, 23, 55, tzinfo=UTC)


@pytest.mark.parametrize("value", ["json", "adapter:acme-v2", "adapter:a", "adapter:gl.v1_2"])
def test_envelope_source_format_accepts_formats(value: str, received_at: datetime) -> None:
    """The envelope carries platform JSON, NMEA or a named adapter, and reads back the same."""
    env = decode(
        topic_for("vending", "event"), wire(example("vending_sale")), received_at=received_at
    )
    data = env.model_dump(mode="json") | {"source_format": value}
    assert Envelope.model_validate(data, strict=False).source_format == value


@pytest.mark.parametrize(
    "value", ["xml", "adapter:", "adapter:Acme", "adapter:acme v2", "adapter:-x", "ADAPTER:x"]
)
def test_envelope_source_format_refuses_others(value: str, received_at: datetime) -> None:
    """Any other string is refused: a consumer can rely on the three forms."""
    env = decode(
        topic_for("vending", "event"), wire(example("vending_sale")), received_at=received_at
    )
    data = env.model_dump(mode="json") | {"source_format": value}
    with pytest.raises(ValidationError, match="source_format"):
        Envelope.model_validate(data, strict=False)


def test_decode_records_adapter_source_format(received_at: datetime) -> None:
    """A JSON payload an adapter made is recorded under the adapter's name."""
    env = decode(
        topic_for("vending", "event"),
        wire(example("vending_sale")),
        received_at=received_at,
        source_format="adapter:acme-v2",
    )
    assert env.source_format == "adapter:acme-v2"
    assert Envelope.model_validate_json(env.model_dump_json()) == env


def test_decode_nmea_stays_nmea() -> None:
    """NMEA text is recorded as nmea whatever the caller passes for JSON."""
    env = decode(
        topic_for("mobility", "position"),
        NMEA_EXAMPLE.encode(),
        received_at=NMEA_RECEIVED_AT,
        source_format="adapter:acme-v2",
    )
    assert env.source_format == "nmea"


@pytest.mark.parametrize("value", ["nmea", "adapter:Bad Name", "yaml"])
def test_decode_refuses_bad_source_format(value: str, received_at: datetime) -> None:
    """A caller passing anything but json or adapter:<name> is a bug, raised at once."""
    with pytest.raises(ValueError, match="source_format must be"):
        decode(
            topic_for("vending", "event"),
            wire(example("vending_sale")),
            received_at=received_at,
            source_format=value,
        )
