"""DingTalk (钉钉) group robot: a Markdown message, URL signed when the robot uses 加签.

Signature (DingTalk's custom-robot security settings): ``timestamp`` in milliseconds,
``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)))``, both
appended to the webhook URL as query parameters. DingTalk rejects timestamps more than an hour
old, so each attempt signs afresh. Errors come back as HTTP 200 with ``errcode`` ≠ 0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote_plus

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

__all__ = ["check_response", "render", "sign"]


def sign(secret: str, timestamp_ms: str) -> str:
    """The ``sign`` query value, already URL-encoded."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def render(alert: Alert, endpoint: WebhookEndpoint, *, now: datetime) -> WebhookRequest:
    url = endpoint.url.get_secret_value()
    if endpoint.secret is not None:
        timestamp = str(int(now.timestamp() * 1000))
        separator = "&" if "?" in url else "?"
        signature = sign(endpoint.secret.get_secret_value(), timestamp)
        url = f"{url}{separator}timestamp={timestamp}&sign={signature}"
    # DingTalk renders a line break only from two spaces + newline or a blank line.
    text = "\n\n".join(line for line in markdown_lines(alert) if line)
    body = {"msgtype": "markdown", "markdown": {"title": title(alert), "text": text}}
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    return WebhookRequest(url, headers, json_body(body))


def check_response(status: int, body: bytes) -> str | None:
    return robot_error(status, body, "errcode")
