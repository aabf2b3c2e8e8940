"""The configuration reference (docs/configuration.md), rendered from the settings models.

Each setting is declared once, in core/settings/, with its type, default and description; this
renders them as Markdown, one table per section, so the documentation cannot drift from the
code. Regenerate after changing a setting::

    python -m core.settings.reference > docs/configuration.md

tests/unit/core/test_core_settings_reference.py fails while the file is stale.
"""

from __future__ import annotations

import enum
import inspect
import sys
import types
from pathlib import PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from core.settings import Settings
from core.settings.env import env_name, env_value

__all__ = ["REGENERATE", "configuration_reference"]

REGENERATE = "python -m core.settings.reference > docs/configuration.md"

_INTRO = f"""\
# Configuration

<!-- Generated from core/settings/ by `{REGENERATE}`: edit the models, not this file. -->

Every cityiot command reads its settings from `CITYIOT_*` environment variables. The variable of a
setting is `CITYIOT_` + section + `_` + field, in upper case: `CITYIOT_MQTT_URL` is the `url` of
the `mqtt` section. The few settings outside a section have no section part (`CITYIOT_RUN_DIR`).
Lists and objects are JSON, booleans `true` or `false`. A wrong or misspelt variable fails at start,
naming it. The defaults point at the local servers on their standard ports, so
`cityiot services up` followed by any other command needs no settings. Secrets are never logged
and print as `**********`.

This page is generated from the settings models in `core/settings/`, where each setting is
declared once: to change it, edit the model, then run

    {REGENERATE}

A unit test fails while this page is stale.
"""

_HEADER = "| variable | type | default | secret | description |\n|---|---|---|---|---|"
_ITEM_HEADER = "| key | type | default | secret | description |\n|---|---|---|---|---|"


def configuration_reference() -> str:
    """docs/configuration.md: every ``CITYIOT_*`` variable, grouped by section."""
    sections: dict[str, type[BaseModel]] = {}
    top: list[tuple[str, FieldInfo]] = []
    for name, info in Settings.model_fields.items():
        model = _model_of(info.annotation)
        if model is not None:
            sections[name] = model
        else:
            top.append((env_name(name), info))
    links = ", ".join(f"[{name}](#{name})" for name in sections)
    parts = [
        _INTRO,
        f"Sections: [top level](#top-level), {links}.\n",
        "## Top level\n\nSettings outside any section: the variable is `CITYIOT_` + field.\n",
        _table(top, _HEADER),
    ]
    for name, model in sections.items():
        parts.append(_section(name, model))
    return "\n".join(parts)


def _section(name: str, model: type[BaseModel]) -> str:
    fields = model.model_fields
    out = [
        f"## {name}\n",
        f"`{env_name('*', name)}`. {_doc(model)}\n",
        _table([(env_name(field, name), info) for field, info in fields.items()], _HEADER),
    ]
    for field, info in fields.items():
        item = _item_model_of(info.annotation)
        if item is not None:  # a list of objects: their keys get a table of their own
            out.append(
                f"### {env_name(field, name)} items\n\n"
                f"{_doc(item)} Each item is a JSON object with these keys:\n"
            )
            out.append(_table(list(item.model_fields.items()), _ITEM_HEADER))
    return "\n".join(out)


def _table(rows: list[tuple[str, FieldInfo]], header: str) -> str:
    lines = [header]
    for name, info in rows:
        cells = [
            f"`{name}`",
            _type(info),
            _default(info),
            "yes" if _is_secret(info.annotation) else "no",
            _cell(info.description or ""),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- types -----------------------------------------------------------------------------------
_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    SecretStr: "string",
}


def _type(info: FieldInfo) -> str:
    text = _type_name(_without_none(info.annotation))
    limits = []
    for item in info.metadata:
        for attr, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            bound = getattr(item, attr, None)
            if bound is not None:
                limits.append(f"{symbol} {bound}")
        pattern = getattr(item, "pattern", None)
        if pattern is not None:
            limits.append(f"matching `{pattern}`")
    return _cell(", ".join([text, *limits]))


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:  # a constrained item type, e.g. dict[str, Annotated[float, Ge]]
        return _type_name(get_args(annotation)[0])
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    if origin is list:
        (item,) = get_args(annotation)
        if _model_of(item):
            return "JSON list of objects (items below)"
        return f"JSON list of {_type_name(item)}"
    if origin is dict:
        key, value = get_args(annotation)
        return f"JSON object ({_type_name(key)} → {_type_name(value)})"
    if inspect.isclass(annotation) and issubclass(annotation, PurePath):
        return "path"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = _without_none(annotation)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _item_model_of(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is list:
        return _model_of(get_args(annotation)[0])
    return None


def _is_secret(annotation: Any) -> bool:
    """Whether the setting is or holds a secret (a list of endpoints with secret URLs does)."""
    if annotation is SecretStr:
        return True
    model = _model_of(annotation)
    if model is not None:
        return any(_is_secret(info.annotation) for info in model.model_fields.values())
    return any(_is_secret(arg) for arg in get_args(annotation))


# -- values ----------------------------------------------------------------------------------
def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "none"
    text = env_value(value)
    return f"`{text}`" if text else "empty"


def _doc(model: type[BaseModel]) -> str:
    return " ".join((inspect.getdoc(model) or "").split()).replace("``", "`")


def _cell(text: str) -> str:
    """``text`` fit for a table cell: one line, ``|`` escaped, and outside code spans ``<``
    escaped (``<run_dir>`` would otherwise read as an HTML tag and vanish)."""
    spans = " ".join(text.split()).replace("|", "\\|").split("`")
    return "`".join(s if i % 2 else s.replace("<", "\\<") for i, s in enumerate(spans))


if __name__ == "__main__":
    sys.stdout.write(configuration_reference())
