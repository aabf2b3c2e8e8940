"""Collector settings: defaults, environment names, validation (their documentation is generated:
docs/configuration.md, checked in tests/unit/core/test_core_settings_reference.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings
from core.settings.collector import CollectorSettings
from schemas import MAX_PAYLOAD_BYTES


def test_settings_payload_default_matches_schemas() -> None:
    """The collector's payload limit defaults to the contract's."""
    assert CollectorSettings().max_payload_bytes == MAX_PAYLOAD_BYTES


def test_settings_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """CITYIOT_COLLECTOR_<FIELD> sets settings.collector.<field>."""
    monkeypatch.setenv("CITYIOT_COLLECTOR_MAX_IN_FLIGHT", "250")
    monkeypatch.setenv("CITYIOT_COLLECTOR_UNKNOWN_DEVICES", "accept")
    settings = Settings()
    assert settings.collector.max_in_flight == 250
    assert settings.collector.unknown_devices == "accept"


def test_settings_refuse_bad_values() -> None:
    """Out-of-range values fail at start, naming the field."""
    with pytest.raises(ValidationError, match="max_in_flight"):
        CollectorSettings(max_in_flight=70_000)
    with pytest.raises(ValidationError, match="reconnect_max_delay_s"):
        CollectorSettings(reconnect_min_delay_s=10, reconnect_max_delay_s=5)
