"""Webhook delivery of alert changes: one module per format, and the asyncio notifier.

Each format is a pair of pure functions: ``render(alert, endpoint, now=...)`` → the request
(URL, headers, body bytes, signed), and ``check_response(status, body)`` → an error or None.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from core.settings.alert import WebhookEndpoint, WebhookFormat
from schemas.alert import Alert
from streams.alerts.webhooks import alertmanager, dingtalk, feishu, generic, wecom
from streams.alerts.webhooks._common import WebhookRequest, sign_generic

__all__ = ["FORMATS", "Format", "WebhookRequest", "render", "sign_generic"]


class Format(NamedTuple):
    render: Callable[..., WebhookRequest]
    check_response: Callable[[int, bytes], str | None]


FORMATS: dict[WebhookFormat, Format] = {
    "generic": Format(generic.render, generic.check_response),
    "alertmanager": Format(alertmanager.render, alertmanager.check_response),
    "dingtalk": Format(dingtalk.render, dingtalk.check_response),
    "wecom": Format(wecom.render, wecom.check_response),
    "feishu": Format(feishu.render, feishu.check_response),
}


def render(alert: Alert, endpoint: WebhookEndpoint, *, now: datetime) -> WebhookRequest:
    """The signed request for ``endpoint``'s format."""
    return FORMATS[endpoint.format].render(alert, endpoint, now=now)
