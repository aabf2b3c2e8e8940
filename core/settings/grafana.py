"""Grafana settings (``CITYIOT_GRAFANA_*``), a section of :class:`core.settings.Settings`."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from core.settings.urls import http_url

__all__ = ["GrafanaSettings"]


class GrafanaSettings(BaseModel):
    """Where ``cityiot dashboards push`` uploads folders and dashboards."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    url: str = Field(
        "http://127.0.0.1:3000",
        description="Grafana base URL (a sub-path such as /grafana is kept).",
    )
    token: SecretStr | None = Field(
        None,
        description="Service-account token (role Editor or Admin) sent as a Bearer token. "
        "Secret: never logged. Without one, push goes anonymous and Grafana answers 401.",
    )
    org: int = Field(
        1, ge=1, description="Organisation id (X-Grafana-Org-Id); a token is bound to one org."
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("token")
    @classmethod
    def _one_credential(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # The HTTP client refuses both at once (a Basic and a Bearer Authorization header).
        if value is not None and urlsplit(str(info.data.get("url", ""))).password is not None:
            raise ValueError("set either a token or a password in CITYIOT_GRAFANA_URL, not both")
        return value
