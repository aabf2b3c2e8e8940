"""The ``alerts`` line-protocol point: escaping, types, identity."""

from __future__ import annotations

from datetime import UTC, datetime

from influxdb_client import Point

from schemas.alert import Alert, Severity
from streams.alerts.line import alert_point

STARTS = datetime(2025, 5, 1, 2, 0, tzinfo=UTC)


def _alert(**changes: object) -> Alert:
    base: dict[str, object] = {
        "status": "firing",
        "fingerprint": "0123456789abcdef",
        "rule": "vending-fridge-too-warm",
        "rule_type": "threshold",
        "severity": Severity.WARNING,
        "device_id": "VM-1",
        "labels": {"facility": "vending", "vendor": "nb vend,x=1", "district": "330203"},
        "summary_zh": '温度 "过高"',
        "summary_en": "too warm",
        "starts_at": STARTS,
        "value": 11.5,
    }
    return Alert.model_validate(base | changes)


def test_alert_point_matches_influxdb_client_serialisation() -> None:
    """Same bytes as influxdb-client's own Point for tags with , = space and quoted fields."""
    alert = _alert()
    reference = (
        Point("alerts")
        .tag("district", "330203")
        .tag("facility", "vending")
        .tag("fingerprint", alert.fingerprint)
        .tag("rule", alert.rule)
        .tag("severity", "warning")
        .tag("vendor", "nb vend,x=1")
        .field("device_id", "VM-1")
        .field("firing", 1)
        .field("status", "firing")
        .field("summary_en", "too warm")
        .field("summary_zh", '温度 "过高"')
        .field("value", 11.5)
        .time(1746064800000000000)
    )
    ours = alert_point(alert)
    head, fields, ts = _split(ours)
    ref_head, ref_fields, ref_ts = _split(reference.to_line_protocol())
    assert (head, sorted(fields), ts) == (ref_head, sorted(ref_fields), ref_ts)


def test_alert_point_cannot_be_split_by_device_text() -> None:
    """Line breaks and a trailing backslash in label text cannot start a new point."""
    alert = _alert(
        labels={"vendor": "evil\nalerts,rule=x firing=1i 1", "district": "a\\"},
        summary_en='x"\ny \\',
    )
    line = alert_point(alert)
    assert "\n" not in line
    assert line.count(" 1746064800000000000") == 1
    assert line.endswith(" 1746064800000000000")
    assert "district=a/," in line


def test_alert_point_resolved_uses_end_time_and_integer_flag() -> None:
    """A resolved change is stamped at ends_at with firing=0i."""
    ends = datetime(2025, 5, 1, 3, 0, 0, 123000, tzinfo=UTC)
    line = alert_point(_alert(status="resolved", ends_at=ends, value=None))
    assert "firing=0i" in line
    assert "value=" not in line
    assert line.endswith(" 1746068400123000000")


def _split(line: str) -> tuple[str, list[str], str]:
    """measurement+tags, fields, timestamp: split at the first unescaped space and the last."""
    i = next(i for i, ch in enumerate(line) if ch == " " and line[i - 1] != "\\")
    fields_part, ts = line[i + 1 :].rsplit(" ", 1)
    return line[:i], _fields(fields_part), ts


def _fields(text: str) -> list[str]:
    out, current, quoted, escaped = [], "", False, False
    for ch in text:
        if escaped:
            current, escaped = current + ch, False
        elif ch == "\\":
            current, escaped = current + ch, True
        elif ch == '"':
            current, quoted = current + ch, not quoted
        elif ch == "," and not quoted:
            out.append(current)
            current = ""
        else:
            current += ch
    return [*out, current]
