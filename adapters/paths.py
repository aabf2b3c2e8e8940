"""Nested paths into a native payload: ``item.price``, ``bins[0].fill``, ``a.b[0].c``.

A path is compiled once, when the adapter file is loaded, into a tuple of steps (a key for an
object, an index for an array); reading it is a loop of dict and list look-ups.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["MISSING", "Path", "format_path", "get", "parse_path"]

Path = tuple[str | int, ...]

# Keys are what vendors put in JSON: letters, digits and a few marks, never '.', '[' or ']'.
_KEY = r"[A-Za-z0-9_$@:-]+"
_PATH = re.compile(rf"{_KEY}(?:\.{_KEY}|\[\d{{1,4}}\])*")
_STEP = re.compile(rf"\.?({_KEY})|\[(\d+)\]")


class _Missing:
    """The value of a path that leads nowhere (absent key, short array, not a container)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def parse_path(text: str) -> Path:
    """The steps of ``text``.

    Raises:
        ValueError: ``text`` is not a path.
    """
    if not _PATH.fullmatch(text):
        raise ValueError(f"{text!r} is not a path such as item.price or bins[0].fill")
    return tuple(
        key if key else int(index) for key, index in (m.groups() for m in _STEP.finditer(text))
    )


def format_path(path: Path) -> str:
    """``path`` as written in the adapter file (and named in a dead letter's ``field``)."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def get(value: Any, path: Path) -> Any:
    """The value at ``path`` in ``value``, or :data:`MISSING`."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return MISSING
            value = value[step]
        else:
            if not isinstance(value, dict):
                return MISSING
            value = value.get(step, MISSING)
            if value is MISSING:
                return MISSING
    return value
