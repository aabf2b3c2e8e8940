"""Alert settings (``CITYIOT_ALERT_*``): the rules file and the webhook endpoints.

Endpoints come from ``CITYIOT_ALERT_WEBHOOKS`` (a JSON list) and/or a YAML file
(``CITYIOT_ALERT_WEBHOOKS_FILE``, a list of the same objects), so secrets can live in a
mounted file. URLs and secrets are ``SecretStr``: robot URLs carry access tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import CityiotError
from core.types import Severity

__all__ = ["AlertSettings", "WebhookEndpoint", "WebhookFormat", "WebhookSettingsError"]

WebhookFormat = Literal["generic", "alertmanager", "dingtalk", "wecom", "feishu"]


class WebhookSettingsError(CityiotError):
    """The webhooks file cannot be read or does not validate."""


class WebhookEndpoint(BaseModel):
    """One receiver of alert notifications."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")] = Field(
        description="Short name used in logs and metric labels (never the URL)."
    )
    url: SecretStr = Field(description="http(s) URL. Secret: robot URLs carry access tokens.")
    format: WebhookFormat = Field(
        "generic",
        description="Body format: generic (the alert JSON, HMAC-signed), alertmanager, or the "
        "group robots of DingTalk, WeCom, Feishu (docs/alerts.md).",
    )
    secret: SecretStr | None = Field(
        None,
        description="Signing secret: HMAC key (generic, alertmanager), robot secret (DingTalk "
        "加签, Feishu 签名校验). Required for generic.",
    )
    timeout_s: float = Field(5.0, gt=0, le=120, description="Per attempt, whole request, s.")
    retries: int = Field(5, ge=0, le=20, description="Attempts after the first one.")
    backoff_initial_s: float = Field(
        1.0,
        gt=0,
        description="Backoff cap of the first retry, s: retry n waits a random time in "
        "[0, min(backoff_max_s, backoff_initial_s × 2ⁿ⁻¹)] (full jitter).",
    )
    backoff_max_s: float = Field(60.0, gt=0, description="Largest backoff cap, s.")
    min_severity: Severity = Field(Severity.INFO, description="Drop alerts below this severity.")
    match_labels: dict[str, str] = Field(
        default_factory=dict, description="Send only alerts whose labels equal all of these."
    )
    send_resolved: bool = Field(True, description="Also notify when an alert resolves.")
    queue_size: int = Field(
        1000, ge=1, description="Notifications waiting for this endpoint; beyond: dead letter."
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL")  # no echo: it is a secret
        return value

    @model_validator(mode="after")
    def _check(self) -> WebhookEndpoint:
        if self.format == "generic" and self.secret is None:
            raise ValueError(f"endpoint {self.name!r}: the generic format needs a secret to sign")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(f"endpoint {self.name!r}: backoff_max_s < backoff_initial_s")
        return self

    def accepts(self, *, status: str, severity: Severity, labels: Mapping[str, str]) -> bool:
        """Whether this endpoint wants an alert change (resolved or not, severity, labels)."""
        if status == "resolved" and not self.send_resolved:
            return False
        if severity.rank < self.min_severity.rank:
            return False
        return all(labels.get(k) == v for k, v in self.match_labels.items())


_ENDPOINTS = TypeAdapter(list[WebhookEndpoint])


class AlertSettings(BaseModel):
    """Rules and notification of alerts: ``settings.alert``."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    rules_path: Path | None = Field(
        None, description="Alert rules YAML file; default: the shipped default_rules.yaml."
    )
    webhooks: list[WebhookEndpoint] = Field(
        default_factory=list, description="Webhook endpoints, as a JSON list in the environment."
    )
    webhooks_file: Path | None = Field(
        None, description="YAML list of more webhook endpoints (for secrets in a mounted file)."
    )
    tick_interval_s: float = Field(
        30.0, gt=0, description="How often absence and offline rules are checked, s."
    )
    notifier_group: str = Field(
        "cityiot-alerts-notifier",
        description="Kafka consumer group of `cityiot alerts run` on the alerts topic; replicas "
        "with the same group share its partitions.",
    )
    dead_letter_path: Path | None = Field(
        None, description="JSON-lines file of undeliverable notifications; default: run dir."
    )
    delivery_log_path: Path | None = Field(
        None, description="JSON-lines file of every delivery attempt; default: log lines only."
    )

    def endpoints(self) -> list[WebhookEndpoint]:
        """``webhooks`` plus those of ``webhooks_file``; names must be unique.

        Raises:
            WebhookSettingsError: the file is unreadable or invalid, or a name repeats.
        """
        endpoints = list(self.webhooks)
        if self.webhooks_file is not None:
            endpoints += _load_file(self.webhooks_file)
        names = [e.name for e in endpoints]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise WebhookSettingsError(f"webhook endpoint names repeat: {repeated}")
        return endpoints


def _load_file(path: Path) -> list[WebhookEndpoint]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WebhookSettingsError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise WebhookSettingsError(f"{path}: not valid YAML: {exc}") from None
    try:
        return _ENDPOINTS.validate_python(data or [])
    except ValidationError as exc:
        # include_input=False: the input may hold URLs and secrets.
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise WebhookSettingsError(f"{path}: {errors}") from None
