"""Alert settings: endpoints from JSON and YAML, filters, secrets kept out of text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings
from core.settings.alert import AlertSettings, WebhookEndpoint, WebhookSettingsError
from schemas.alert import Alert, Severity

URL = "https://oapi.dingtalk.com/robot/send?access_token=TOPSECRETTOKEN"


def _alert(severity: Severity, **labels: str) -> Alert:
    return Alert(
        status="firing",
        fingerprint="0123456789abcdef",
        rule="r",
        rule_type="threshold",
        severity=severity,
        device_id="D",
        labels=labels,
        summary_zh="s",
        summary_en="s",
        starts_at=datetime(2025, 5, 1, tzinfo=UTC),
    )


def _accepts(endpoint: WebhookEndpoint, alert: Alert) -> bool:
    return endpoint.accepts(status=alert.status, severity=alert.severity, labels=alert.labels)


def test_alert_settings_webhooks_from_env_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """CITYIOT_ALERT_WEBHOOKS holds a JSON list of endpoints."""
    monkeypatch.setenv(
        "CITYIOT_ALERT_WEBHOOKS",
        f'[{{"name": "ding", "url": "{URL}", "format": "dingtalk", "secret": "S"}}]',
    )
    monkeypatch.setenv("CITYIOT_ALERT_TICK_INTERVAL_S", "5")
    settings = Settings().alert
    assert [e.name for e in settings.endpoints()] == ["ding"]
    assert settings.tick_interval_s == 5
    assert "TOPSECRETTOKEN" not in repr(settings)
    assert "TOPSECRETTOKEN" not in str(settings)


def test_alert_settings_webhooks_file_and_duplicate_names(tmp_path: Path) -> None:
    """A YAML file adds endpoints; a name used twice is an error."""
    path = tmp_path / "hooks.yaml"
    path.write_text(f"- name: ding\n  url: {URL}\n  format: dingtalk\n", encoding="utf-8")
    settings = AlertSettings(webhooks_file=path)
    assert [e.format for e in settings.endpoints()] == ["dingtalk"]
    inline = WebhookEndpoint(name="ding", url=URL, format="wecom")  # type: ignore[arg-type]
    with pytest.raises(WebhookSettingsError, match="repeat"):
        AlertSettings(webhooks=[inline], webhooks_file=path).endpoints()


def test_alert_settings_bad_file_error_hides_url(tmp_path: Path) -> None:
    """An invalid endpoint in the file is reported without echoing its URL."""
    path = tmp_path / "hooks.yaml"
    path.write_text("- name: x\n  url: ftp://TOPSECRETTOKEN@host/\n  format: wecom\n")
    with pytest.raises(WebhookSettingsError) as info:
        AlertSettings(webhooks_file=path).endpoints()
    assert "0.url" in str(info.value)
    assert "TOPSECRETTOKEN" not in str(info.value)


def test_webhook_endpoint_generic_requires_secret() -> None:
    """The generic format is always signed: no secret, no endpoint."""
    with pytest.raises(ValidationError, match="needs a secret"):
        WebhookEndpoint.model_validate({"name": "ops", "url": "https://x/", "format": "generic"})


def test_webhook_endpoint_accepts_filters_by_severity_and_labels() -> None:
    """min_severity and match_labels both have to pass."""
    endpoint = WebhookEndpoint.model_validate(
        {
            "name": "ops",
            "url": "https://x/",
            "secret": "s",
            "min_severity": "warning",
            "match_labels": {"team": "vending-ops"},
        }
    )
    assert _accepts(endpoint, _alert(Severity.CRITICAL, team="vending-ops"))
    assert not _accepts(endpoint, _alert(Severity.INFO, team="vending-ops"))
    assert not _accepts(endpoint, _alert(Severity.CRITICAL, team="recycling-ops"))
