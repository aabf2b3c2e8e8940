"""cityiot's own format: the ``city.alerts.v1`` JSON, signed with HMAC-SHA256.

Headers: ``X-Cityiot-Timestamp`` (Unix seconds), ``X-Cityiot-Signature:
sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``, ``Idempotency-Key`` (the same for
every retry of one notification). Receivers verify as ``docs/alerts.md`` shows.
"""

from __future__ import annotations

from datetime import datetime

from core.settings.alert import WebhookEndpoint
from schemas.alert import Alert
from streams.alerts.webhooks._common import USER_AGENT, WebhookRequest, sign_generic

__all__ = ["check_response", "render", "signed_headers"]


def signed_headers(alert: Alert, secret: str | None, body: bytes, now: datetime) -> dict[str, str]:
    """Content type, idempotency and (with a secret) signature headers."""
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": alert.idempotency_key,
        "X-Cityiot-Alert-Status": alert.status,
        "X-Cityiot-Timestamp": timestamp,
    }
    if secret is not None:
        headers["X-Cityiot-Signature"] = sign_generic(secret, timestamp, body)
    return headers


def render(alert: Alert, endpoint: WebhookEndpoint, *, now: datetime) -> WebhookRequest:
    body = alert.model_dump_json().encode("utf-8")
    secret = endpoint.secret.get_secret_value() if endpoint.secret else None
    return WebhookRequest(
        endpoint.url.get_secret_value(), signed_headers(alert, secret, body, now), body
    )


def check_response(status: int, body: bytes) -> str | None:
    """Any 2xx is delivered."""
    return None if 200 <= status < 300 else f"http_status={status}"
