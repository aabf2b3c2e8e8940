"""Webhook formats: bodies, and signatures checked by verifiers written from each vendor's docs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core.settings.alert import WebhookEndpoint
from schemas.alert import Alert, Severity
from streams.alerts.webhooks import FORMATS, render

NOW = datetime(2025, 5, 1, 2, 30, tzinfo=UTC)
SECRET = "SEC0123456789abcdef"
ALERT = Alert(
    status="firing",
    fingerprint="0123456789abcdef",
    rule="vending-fridge-too-warm",
    rule_type="threshold",
    severity=Severity.WARNING,
    device_id="VM-330203-0001",
    labels={
        "alertname": "vending-fridge-too-warm",
        "severity": "warning",
        "device_id": "VM-330203-0001",
        "district": "330203",
    },
    summary_zh="售货机 VM-330203-0001（海曙区）冷藏温度过高：11.0 °C",
    summary_en="Vending machine VM-330203-0001 (Haishu District) too warm: 11.0 °C",
    starts_at=datetime(2025, 5, 1, 2, 0, tzinfo=UTC),
    value=11.0,
)


def _endpoint(fmt: str, url: str, secret: str | None = SECRET) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate(
        {"name": fmt, "url": url, "format": fmt, "secret": secret}
    )


# --- verifiers, each written from the receiving side's documentation ------------------------


def verify_generic(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """cityiot docs: HMAC-SHA256(secret, timestamp + "." + body), 5-minute replay window."""
    timestamp = headers["X-Cityiot-Timestamp"]
    if abs(now - int(timestamp)) > 300:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, "sha256").hexdigest()
    return hmac.compare_digest(headers["X-Cityiot-Signature"], f"sha256={expected}")


def verify_dingtalk(secret: str, url: str) -> bool:
    """DingTalk: sign = Base64(HmacSHA256(key=secret, data=timestamp + "\\n" + secret))."""
    query = parse_qs(urlsplit(url).query)  # parse_qs URL-decodes, as DingTalk's server does
    timestamp, sign = query["timestamp"][0], query["sign"][0]
    string_to_sign = f"{timestamp}\n{secret}"
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), sign)


def verify_feishu(secret: str, body: dict[str, Any]) -> bool:
    """Feishu: key = timestamp + "\\n" + secret, HMAC-SHA256 of an empty message, Base64."""
    string_to_sign = f"{body['timestamp']}\n{secret}"
    digest = hmac.new(string_to_sign.encode("utf-8"), digestmod=hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode("utf-8"), body["sign"])


# --- tests ----------------------------------------------------------------------------------


def test_generic_render_body_is_alert_json_and_signature_verifies() -> None:
    """The body is the city.alerts.v1 JSON; signature and idempotency key are in headers."""
    request = render(ALERT, _endpoint("generic", "https://ops.example/hook"), now=NOW)
    assert Alert.model_validate_json(request.body) == ALERT
    assert request.headers["Idempotency-Key"] == "0123456789abcdef:firing:20250501T020000.000000Z"
    assert request.headers["X-Cityiot-Timestamp"] == str(int(NOW.timestamp()))
    assert verify_generic(SECRET, request.headers, request.body, NOW.timestamp())
    assert not verify_generic("wrong", request.headers, request.body, NOW.timestamp())
    assert not verify_generic(SECRET, request.headers, request.body + b" ", NOW.timestamp())


def test_generic_idempotency_key_stable_across_retries() -> None:
    """A retry a minute later is re-signed but keeps its idempotency key."""
    endpoint = _endpoint("generic", "https://ops.example/hook")
    first = render(ALERT, endpoint, now=NOW)
    later = render(ALERT, endpoint, now=NOW.replace(minute=31))
    assert first.headers["Idempotency-Key"] == later.headers["Idempotency-Key"]
    assert first.headers["X-Cityiot-Signature"] != later.headers["X-Cityiot-Signature"]


def test_alertmanager_render_follows_webhook_v4() -> None:
    """Alertmanager's webhook body: version 4, one alert, Go zero time while firing."""
    request = render(ALERT, _endpoint("alertmanager", "http://am-bridge:9000/", None), now=NOW)
    body = json.loads(request.body)
    assert (body["version"], body["status"], body["receiver"]) == ("4", "firing", "alertmanager")
    (alert,) = body["alerts"]
    assert alert["labels"] == ALERT.labels
    assert alert["annotations"]["summary"] == ALERT.summary_zh
    assert (alert["startsAt"], alert["endsAt"]) == (
        "2025-05-01T02:00:00.000000Z",
        "0001-01-01T00:00:00Z",
    )
    assert alert["fingerprint"] == ALERT.fingerprint
    assert "X-Cityiot-Signature" not in request.headers


def test_dingtalk_render_signs_url_per_dingtalk_docs() -> None:
    """The robot URL gets timestamp (ms) and a URL-encoded sign that DingTalk would accept."""
    url = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN"
    request = render(ALERT, _endpoint("dingtalk", url), now=NOW)
    assert request.url.startswith(url + "&timestamp=1746066600000&sign=")
    assert verify_dingtalk(SECRET, request.url)
    assert not verify_dingtalk("other", request.url)
    body = json.loads(request.body)
    assert body["msgtype"] == "markdown"
    assert ALERT.summary_zh in body["markdown"]["text"]
    assert body["markdown"]["title"].startswith("[告警 FIRING]")


def test_wecom_render_markdown_with_key_url_and_size_limit() -> None:
    """WeCom: URL unchanged (its key is the credential), content within 4096 bytes."""
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY"
    long = ALERT.model_copy(update={"summary_zh": "很长" * 2000})
    request = render(long, _endpoint("wecom", url, None), now=NOW)
    assert request.url == url
    content = json.loads(request.body)["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.startswith('<font color="warning">')


def test_feishu_render_signs_body_per_feishu_docs() -> None:
    """Feishu: timestamp (s) and sign in the body; an interactive card with the summary."""
    url = "https://open.feishu.cn/open-apis/bot/v2/hook/HOOK"
    request = render(ALERT, _endpoint("feishu", url), now=NOW)
    body = json.loads(request.body)
    assert body["timestamp"] == "1746066600"
    assert verify_feishu(SECRET, body)
    assert not verify_feishu(SECRET + "x", body)
    assert body["msg_type"] == "interactive"
    assert ALERT.summary_en in body["card"]["elements"][0]["text"]["content"]
    assert body["card"]["header"]["template"] == "red"


@pytest.mark.parametrize(
    ("fmt", "status", "body", "error"),
    [
        ("generic", 204, b"", None),
        ("generic", 500, b"", "http_status=500"),
        ("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}', None),
        ("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}', "errcode=310000"),
        ("wecom", 200, b'{"errcode":93000,"errmsg":"invalid webhook url"}', "errcode=93000"),
        ("feishu", 200, b'{"code":0,"msg":"success"}', None),
        ("feishu", 200, b'{"code":19021,"msg":"sign match fail"}', "code=19021"),
        ("feishu", 200, b'{"StatusCode":0,"StatusMessage":"success"}', None),
        ("feishu", 200, b"<html>", "unreadable response"),
    ],
    ids=["2xx", "5xx", "ding-ok", "ding-err", "wecom-err", "fs-ok", "fs-err", "fs-old", "fs-html"],
)
def test_check_response_reads_robot_error_codes(
    fmt: str, status: int, body: bytes, error: str | None
) -> None:
    """Robots answer 200 with an error code; that is a failed delivery, not a success."""
    result = FORMATS[fmt].check_response(status, body)  # type: ignore[index]
    assert result == error if error is None else (result is not None and error in result)
