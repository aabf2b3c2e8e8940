"""Alertmanager's webhook payload (``version: "4"``), one alert per notification.

Tools written for Alertmanager's ``webhook_config`` (e.g. prometheus-webhook-dingtalk, ticket
bridges) accept it unchanged. ``endsAt`` is Go's zero time while firing, as Alertmanager sends
it. With a secret, the cityiot signature headers are added (Alertmanager itself has none).
"""

from __future__ import annotations

from datetime import datetime

from core.settings.alert import WebhookEndpoint
from schemas.alert import Alert
from streams.alerts.webhooks._common import WebhookRequest, json_body
from streams.alerts.webhooks.generic import check_response, signed_headers

__all__ = ["check_response", "payload", "render"]

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def _rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def payload(alert: Alert, receiver: str) -> dict[str, object]:
    annotations = {
        "summary": alert.summary_zh,
        "summary_en": alert.summary_en,
        **alert.annotations,
    }
    if alert.value is not None:
        annotations["value"] = f"{alert.value:g}"
    group = {"alertname": alert.rule}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alert.rule}",fingerprint="{alert.fingerprint}"}}',
        "truncatedAlerts": 0,
        "status": alert.status,
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": alert.labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [
            {
                "status": alert.status,
                "labels": alert.labels,
                "annotations": annotations,
                "startsAt": _rfc3339(alert.starts_at),
                "endsAt": _rfc3339(alert.ends_at) if alert.ends_at else GO_ZERO_TIME,
                "generatorURL": "",
                "fingerprint": alert.fingerprint,
            }
        ],
    }


def render(alert: Alert, endpoint: WebhookEndpoint, *, now: datetime) -> WebhookRequest:
    body = json_body(payload(alert, endpoint.name))
    secret = endpoint.secret.get_secret_value() if endpoint.secret else None
    return WebhookRequest(
        endpoint.url.get_secret_value(), signed_headers(alert, secret, body, now), body
    )
