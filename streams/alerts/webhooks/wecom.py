"""WeCom (企业微信) group robot: a Markdown message to ``.../webhook/send?key=KEY``.

The robot has no signature: the ``key`` in the URL is the credential, so keep the URL secret
(it is a ``SecretStr`` and never logged). Errors come back as HTTP 200 with ``errcode`` ≠ 0.
"""

from __future__ import annotations

from datetime import datetime

from core.settings.alert import WebhookEndpoint
from schemas.alert import Alert
from streams.alerts.webhooks._common import (
    USER_AGENT,
    WebhookRequest,
    json_body,
    markdown_lines,
    robot_error,
    title,
)

__all__ = ["MAX_CONTENT_BYTES", "check_response", "render"]

# WeCom rejects markdown content over 4096 bytes (UTF-8).
MAX_CONTENT_BYTES = 4096


def render(alert: Alert, endpoint: WebhookEndpoint, *, now: datetime) -> WebhookRequest:
    colour = "warning" if alert.status == "firing" else "info"
    head = f'<font color="{colour}">{title(alert)}</font>'
    content = "\n".join([head, *markdown_lines(alert)])
    encoded = content.encode("utf-8")
    if len(encoded) > MAX_CONTENT_BYTES:
        content = encoded[: MAX_CONTENT_BYTES - 3].decode("utf-8", "ignore") + "..."
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    return WebhookRequest(endpoint.url.get_secret_value(), headers, json_body(body))


def check_response(status: int, body: bytes) -> str | None:
    return robot_error(status, body, "errcode")
