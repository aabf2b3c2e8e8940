"""What every webhook format shares: the request shape, bilingual text, response parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from schemas.alert import Alert

__all__ = [
    "USER_AGENT",
    "WebhookRequest",
    "json_body",
    "markdown_lines",
    "robot_error",
    "sign_generic",
    "title",
]

USER_AGENT = "cityiot-alerts/1"
# Ops teams read times in Beijing time; the JSON formats keep UTC.
_LOCAL = ZoneInfo("Asia/Shanghai")
# Enough to read a vendor's error JSON; a misbehaving endpoint cannot make us buffer more.
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class WebhookRequest:
    """One HTTP POST, ready to send. ``url`` may carry tokens: never log it."""

    url: str
    headers: dict[str, str]
    body: bytes


def json_body(data: object) -> bytes:
    """Compact UTF-8 JSON (Chinese stays readable; the robots accept it)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign_generic(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``: cityiot's signature header.

    Binding the timestamp lets receivers reject replays older than a few minutes.
    """
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def title(alert: Alert) -> str:
    state = "告警 FIRING" if alert.status == "firing" else "恢复 RESOLVED"
    return f"[{state}] {alert.severity.value} · {alert.rule}"


def _local(at: datetime) -> str:
    return at.astimezone(_LOCAL).strftime("%Y-%m-%d %H:%M:%S")


def markdown_lines(alert: Alert) -> list[str]:
    """The human text of an alert, shared by the robot formats (Markdown subset they all render)."""
    lines = [f"**{alert.summary_zh}**", alert.summary_en, ""]
    lines.append(f"- 设备 Device: {alert.device_id}")
    for key in ("facility", "district", "vendor"):
        if key in alert.labels:
            lines.append(f"- {key}: {alert.labels[key]}")
    if alert.value is not None:
        lines.append(f"- 数值 Value: {alert.value:g}")
    lines.append(f"- 开始 Started: {_local(alert.starts_at)} (UTC+8)")
    if alert.ends_at is not None:
        lines.append(f"- 恢复 Resolved: {_local(alert.ends_at)} (UTC+8)")
    lines.append(f"- 指纹 Fingerprint: {alert.fingerprint}")
    return lines


def robot_error(status: int, body: bytes, *code_keys: str) -> str | None:
    """Error text when a robot answered non-2xx, or 200 with a non-zero error code in its JSON.

    The robots answer HTTP 200 for most failures (bad signature, rate limit), so the status
    alone would report a lost notification as delivered.
    """
    if not 200 <= status < 300:
        return f"http_status={status}"
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return "unreadable response"
    if not isinstance(data, dict):
        return "unexpected response"
    for key in code_keys:
        if key in data:
            code = data[key]
            if code in (0, "0"):
                return None
            message = str(data.get("errmsg") or data.get("msg") or data.get("StatusMessage"))
            return f"{key}={code} message={message[:200]!r}"
    return f"response without {'/'.join(code_keys)}"
