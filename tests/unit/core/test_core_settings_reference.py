"""docs/configuration.md is the settings models rendered (core/settings/reference.py): current,
complete, and every setting described."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.settings import Settings
from core.settings.alert import WebhookEndpoint
from core.settings.env import env_name
from core.settings.reference import REGENERATE, configuration_reference

ROOT = Path(__file__).resolve().parents[3]
CONFIGURATION_MD = ROOT / "docs" / "configuration.md"


def _variables() -> list[str]:
    names = []
    for name, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names += [env_name(field, name) for field in model.model_fields]
        else:
            names.append(env_name(name))
    return names


def test_settings_reference_docs_are_current() -> None:
    """docs/configuration.md equals what the models render now."""
    expected = configuration_reference()
    found = CONFIGURATION_MD.read_text(encoding="utf-8")
    if found != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    found.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "docs/configuration.md",
                    "the models",
                )
            )[:40]
        )
        pytest.fail(f"docs/configuration.md is stale: run `{REGENERATE}`\n{diff}")


def test_settings_reference_lists_every_variable_once() -> None:
    """One table row per CITYIOT_* variable, with its section's docstring above it."""
    text = configuration_reference()
    rows = re.findall(r"^\| `(CITYIOT_[A-Z0-9_]+)` \|", text, re.M)
    assert sorted(rows) == sorted(_variables())
    assert len(set(rows)) == len(rows)
    assert "How to reach the MQTT broker the devices publish to." in text
    assert "## collector\n" in text


def test_settings_reference_row_gives_type_default_and_secret() -> None:
    """A row reads: variable, type with its bounds, default as the environment spells it, secret."""
    text = configuration_reference()
    assert "| `CITYIOT_COLLECTOR_MAX_IN_FLIGHT` | integer, ≥ 1, ≤ 65535 | `10000` | no |" in text
    assert "| `CITYIOT_COLLECTOR_IDEMPOTENT_PRODUCER` | boolean | `true` | no |" in text
    assert "| `CITYIOT_MQTT_PASSWORD` | string | none | yes |" in text
    assert "| `CITYIOT_RUN_DIR` | path | `.cityiot` | no |" in text
    assert "| `CITYIOT_ALERT_WEBHOOKS` | JSON list of objects (items below) | `[]` | yes |" in text


def test_settings_reference_documents_webhook_items() -> None:
    """The keys of a webhook endpoint object get their own table."""
    text = configuration_reference()
    items = text.split("### CITYIOT_ALERT_WEBHOOKS items", 1)[1]
    keys = re.findall(r"^\| `([a-z_]+)` \|", items.split("\n## ", 1)[0], re.M)
    assert keys == list(WebhookEndpoint.model_fields)
    assert "| `url` | string | required | yes |" in items


def test_settings_reference_every_setting_has_a_description() -> None:
    """A setting without a description would be an empty cell: describe it in its model."""
    models: list[type[BaseModel]] = [Settings, WebhookEndpoint]
    models += [
        info.annotation
        for info in Settings.model_fields.values()
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
    ]
    bare = [
        f"{model.__name__}.{name}"
        for model in models
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
        and not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel))
    ]
    assert bare == []
