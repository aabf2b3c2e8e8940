"""Feishu / Lark (飞书) group robot: an interactive card, signed in the body (签名校验).

Signature (Feishu custom-bot docs): ``timestamp`` in seconds; ``string_to_sign = timestamp +
"\\n" + secret`` is the HMAC-SHA256 *key* over an empty message; ``sign`` is its base64.
``timestamp`` and ``sign`` go in the JSON body. Feishu rejects timestamps more than an hour
from its clock. Errors come back with ``code`` ≠ 0 (older answers: ``StatusCode``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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

__all__ = ["check_response", "render", "sign"]


def sign(secret: str, timestamp_s: str) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def render(alert: Alert, endpoint: WebhookEndpoint, *, now: datetime) -> WebhookRequest:
    card = {
        "header": {
            "title": {"tag": "plain_text", "content": title(alert)},
            "template": "red" if alert.status == "firing" else "green",
        },
        "elements": [
            {"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(markdown_lines(alert))}}
        ],
    }
    body: dict[str, object] = {"msg_type": "interactive", "card": card}
    if endpoint.secret is not None:
        timestamp = str(int(now.timestamp()))
        body = {
            "timestamp": timestamp,
            "sign": sign(endpoint.secret.get_secret_value(), timestamp),
            **body,
        }
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    return WebhookRequest(endpoint.url.get_secret_value(), headers, json_body(body))


def check_response(status: int, body: bytes) -> str | None:
    return robot_error(status, body, "code", "StatusCode")
