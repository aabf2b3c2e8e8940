"""Settings as log lines, secrets masked: what a process logs at start.

An operator reading a log needs the values the process really runs with (defaults included: a
default is a value too), not the environment it was given. One line per section, ``field=value``
in the model's order, named by their ``CITYIOT_*`` variable's section. Secrets (``SecretStr``,
and the password part of any URL, e.g. ``mqtt://user:pass@host``) print as ``**********``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["MASK", "describe", "masked"]

MASK = "**********"


def describe(settings: Settings, sections: Iterable[str]) -> list[str]:
    """``settings: <section> field=value ...`` for each of ``sections``, then one line for the
    top-level fields (run_dir, registry_path, ...)."""
    lines = []
    for name in sections:
        section = getattr(settings, name)
        pairs = " ".join(f"{field}={_text(value)}" for field, value in section)
        lines.append(f"settings {name}: {pairs}")
    top = " ".join(
        f"{field}={_text(value)}"
        for field, value in settings
        if not isinstance(value, BaseModel) and value is not None
    )
    lines.append(f"settings: {top}")
    return lines


def masked(value: object) -> object:
    """``value`` fit for a log: secrets masked, URL passwords masked; containers element-wise."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, BaseModel):
        return {field: masked(inner) for field, inner in value}
    if isinstance(value, dict):
        return {str(key): masked(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(inner) for inner in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, str) and "://" in value:
        return _url_masked(value)
    return value


def _text(value: object) -> str:
    plain = masked(value)
    if isinstance(plain, (dict, list)):
        return json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    if isinstance(plain, bool):
        return "true" if plain else "false"
    return str(plain)


def _url_masked(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not a parsable URL after all (a bad port): show nothing of it
        return MASK
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}{port}"))
