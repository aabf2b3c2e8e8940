"""InfluxDB line protocol, built by hand: escaping and typed field values (pure).

Rules (InfluxDB 1.x, FACTS.md): in measurement names escape ``,`` and space; in tag keys, tag values
and field keys escape ``,``, ``=`` and space; string field values go in double quotes with ``"``
and ``\\`` escaped. Line protocol has no escape for a newline, so CR and LF become spaces: a
device can never end a line and start a point of its own. Field types are fixed by the Python type:
``int`` → ``12i``, ``float`` → ``12.0``, ``bool`` → ``true``, ``str`` → ``"..."``; callers pass
the same type for a field every time (a type change is a rejected batch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

__all__ = [
    "FieldValue",
    "escape_measurement",
    "escape_tag",
    "field_value",
    "line",
    "line_of",
    "series_key",
    "tag_text",
]

FieldValue = int | float | bool | str

# A backslash is doubled everywhere: the parser reads "\\x" as "skip x", so a lone backslash
# before our escape of a space would cancel it. (1.x keeps the doubled form in the stored value.)
_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\ ", "\r": r"\ ", "\\": "\\\\"})
_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\ ", "\r": r"\ ", "\\": "\\\\"})
_STRING = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": " ", "\r": " "})


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT)


def escape_tag(text: str) -> str:
    """Escape a tag key, tag value or field key."""
    return text.translate(_TAG)


def field_value(value: FieldValue) -> str:
    # bool before int: bool is a subclass of int.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + value.translate(_STRING) + '"'


# The group series a worker writes (the series budget) are few; each is escaped once. A device's
# own series are not cached here: at city scale (115,000 devices × ~5 series) a cache that held
# them missed anyway and took ~1.5 KB a device; the device keeps its escaped tags instead
# (streams.state.DeviceState.tag_text).
_SERIES_CACHE = 16_384


@lru_cache(maxsize=_SERIES_CACHE)
def series_key(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """Escaped ``measurement,tag=value,...``; tags with an empty value are left out (line
    protocol has no empty tag value). ``tags`` should be sorted by key (InfluxDB's own order)."""
    return escape_measurement(measurement) + tag_text(tags)


def tag_text(tags: Iterable[tuple[str, str]]) -> str:
    """Escaped ``,tag=value...`` (sorted by key, empty values left out) for :func:`line_of`."""
    return "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in tags if v != "")


@lru_cache(maxsize=4096)
def _field_key(name: str) -> str:
    return escape_tag(name)


def line(
    measurement: str,
    tags: Iterable[tuple[str, str]],
    fields: Mapping[str, FieldValue | None],
    ts: int,
) -> str:
    """One point; fields that are None are left out (line protocol has no null)."""
    return line_of(series_key(measurement, tuple(tags)), fields, ts)


def line_of(key: str, fields: Mapping[str, FieldValue | None], ts: int) -> str:
    """One point of an escaped series key (``measurement`` + :func:`tag_text`)."""
    field_text = ",".join(
        f"{_field_key(k)}={field_value(v)}" for k, v in fields.items() if v is not None
    )
    return f"{key} {field_text} {ts}"
