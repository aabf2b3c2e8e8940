"""The ``alerts`` InfluxDB point of an alert change, for the dashboards' alert panels.

One point per change, at the change's time (``starts_at`` for firing, ``ends_at`` for
resolved). Identity is measurement + tags + time, so a replayed change overwrites its own point.
``fingerprint`` is a tag because several devices often change at the same instant (one tick);
its cardinality is bounded by rules × subjects that ever alerted. ``firing`` is always an
integer and ``value`` always a float, so no batch meets a field type conflict.

Query for what is firing now::

    SELECT last("firing") FROM "alerts" WHERE $timeFilter GROUP BY "fingerprint"
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.alert import Alert

__all__ = ["MEASUREMENT", "alert_point", "escape_field_string", "escape_tag"]

MEASUREMENT = "alerts"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TAGS = ("district", "facility", "fingerprint", "rule", "severity", "vendor")


def escape_tag(value: str) -> str:
    """Escape a tag key or value (also used for field keys).

    Line breaks would start a new point, so they become spaces. A backslash becomes ``/``: in
    1.x a literal backslash before a separator would escape it and let data splice the line.
    """
    cleaned = "".join(" " if ch in "\r\n\t" else ch for ch in value).replace("\\", "/")
    return cleaned.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def escape_field_string(value: str) -> str:
    """A string field value, quoted: backslash and double quote escaped, line breaks flattened."""
    cleaned = "".join(" " if ch in "\r\n" else ch for ch in value)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def alert_point(alert: Alert) -> str:
    """Line protocol for one change, timestamp in nanoseconds (write with ``precision=ns``)."""
    values = {
        "district": alert.labels.get("district"),
        "facility": alert.labels.get("facility"),
        "fingerprint": alert.fingerprint,
        "rule": alert.rule,
        "severity": alert.severity.value,
        "vendor": alert.labels.get("vendor"),
    }
    # Sorted tag keys are InfluxDB's fast path; empty tag values are not allowed at all.
    tags = "".join(f",{k}={escape_tag(v)}" for k in _TAGS if (v := values[k]))
    fields = [
        f"status={escape_field_string(alert.status)}",
        f"firing={1 if alert.status == 'firing' else 0}i",
        f"device_id={escape_field_string(alert.device_id)}",
        f"summary_zh={escape_field_string(alert.summary_zh)}",
        f"summary_en={escape_field_string(alert.summary_en)}",
    ]
    if alert.value is not None:
        fields.append(f"value={float(alert.value)!r}")
    ns = (alert.changed_at - _EPOCH) // timedelta(microseconds=1) * 1000
    return f"{MEASUREMENT}{tags} {','.join(fields)} {ns}"
