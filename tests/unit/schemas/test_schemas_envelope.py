"""Envelope: the Kafka form of a validated message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from schemas_testkit import example, topic_for, wire

from schemas import Enrichment, Envelope, VendingSale, decode


def _envelope(received_at: datetime) -> Envelope:
    return decode(
        topic_for("vending", "event"), wire(example("vending_sale")), received_at=received_at
    )


def test_envelope_key_is_device_id(received_at: datetime) -> None:
    """Kafka key keeps one device's messages in one partition."""
    assert _envelope(received_at).key == "VM-330203-0001"


def test_envelope_dedup_id_uses_seq(received_at: datetime) -> None:
    """JSON messages deduplicate by (device_id, seq)."""
    assert _envelope(received_at).dedup_id == ("VM-330203-0001", 10482)


def test_envelope_enrichment_added_by_copy_round_trips(received_at: datetime) -> None:
    """Collectors add enrichment with model_copy; the JSON round trip keeps it exactly."""
    enrichment = Enrichment(
        district_adcode="330203",
        district_name="海曙区",
        district_name_en="Haishu District",
        vendor="nbvend",
        lat=29.8273,
        lon=121.3484,
        expected_interval_s=300,
    )
    env = _envelope(received_at).model_copy(update={"enrichment": enrichment})
    again = Envelope.model_validate_json(env.model_dump_json())
    assert again == env
    assert again.enrichment == enrichment
    assert "海曙区" in env.model_dump_json()  # UTF-8, not \\u escapes


def test_envelope_is_frozen(received_at: datetime) -> None:
    """Envelopes are immutable; changes go through model_copy."""
    env = _envelope(received_at)
    with pytest.raises(ValidationError, match="frozen"):
        env.seq = 1


def test_envelope_json_has_body_kind_tag(received_at: datetime) -> None:
    """The body carries its kind, which selects the model when read back."""
    assert '"kind":"vending_sale"' in _envelope(received_at).model_dump_json()


def test_envelope_rejects_body_of_other_channel(received_at: datetime) -> None:
    """A body that does not belong on the facility/channel is refused."""
    env = _envelope(received_at)
    data = env.model_dump()
    data["channel"] = "telemetry"
    with pytest.raises(ValidationError, match="does not belong"):
        Envelope.model_validate(data)


def test_envelope_requires_seq_for_json(received_at: datetime) -> None:
    """Only NMEA envelopes may lack seq."""
    data = _envelope(received_at).model_dump()
    data["seq"] = None
    with pytest.raises(ValidationError, match="seq is required"):
        Envelope.model_validate(data)


def test_envelope_rejects_naive_datetimes(received_at: datetime) -> None:
    """ts and received_at must be aware; they are stored in UTC."""
    data = _envelope(received_at).model_dump()
    data["ts"] = datetime(2025, 5, 1, 4, 5)
    with pytest.raises(ValidationError, match="UTC offset"):
        Envelope.model_validate(data)


def test_envelope_body_models_strict(received_at: datetime) -> None:
    """Bodies refuse coercion even when built in Python."""
    with pytest.raises(ValidationError):
        VendingSale(
            txn_id="t",
            sku="s",
            category="water",
            quantity="1",
            amount_fen=100,
            payment="wechat",
            outcome="success",
        )


def test_envelope_ts_ms_is_integer_epoch_ms(received_at: datetime) -> None:
    """ts_ms is exact integer milliseconds (InfluxDB precision=ms)."""
    env = _envelope(received_at)
    assert env.ts == datetime(2025, 5, 1, 4, 5, 31, 250_000, tzinfo=UTC)
    assert env.ts_ms == 1746072331250
