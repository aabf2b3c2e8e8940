"""Settings as ``CITYIOT_*`` environment variables: the naming rule, and a Settings object turned
back into the environment that rebuilds it (for the platform's own child processes).

A variable is ``CITYIOT_`` + section + ``_`` + field in upper case (``CITYIOT_MQTT_URL`` is
``settings.mqtt.url``); a top-level field has no section (``CITYIOT_RUN_DIR``). Lists, dicts and
models are JSON (``CITYIOT_ALERT_WEBHOOKS='[{"name": ...}]'``), booleans ``true``/``false``.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["ENV_PREFIX", "env_name", "env_value", "to_env"]

ENV_PREFIX = "CITYIOT_"


def env_name(field: str, section: str | None = None) -> str:
    """The variable of ``section.field`` (or of the top-level ``field``)."""
    return f"{ENV_PREFIX}{section}_{field}".upper() if section else f"{ENV_PREFIX}{field}".upper()


def env_value(value: object) -> str:
    """``value`` as the environment spells it, secrets in clear."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict, BaseModel)):
        return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))
    return str(_plain(value))


def to_env(settings: Settings) -> dict[str, str]:
    """``CITYIOT_*`` variables that rebuild ``settings`` in a child process.

    Secrets are in clear: the environment of our own children is the one place they may go. A
    None value is left out (every optional setting defaults to None).
    """
    env: dict[str, str] = {}
    for name, value in settings:
        if isinstance(value, BaseModel):  # a section
            for field, inner in value:
                if inner is not None:
                    env[env_name(field, name)] = env_value(inner)
        elif value is not None:
            env[env_name(name)] = env_value(value)
    return env


def _plain(value: object) -> object:
    """JSON-ready ``value``: models as dicts, secrets revealed, paths and enums as strings."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _plain(inner) for name, inner in value}
    if isinstance(value, dict):
        return {str(key): _plain(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(inner) for inner in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    return value
