"""Reading adapter files: one YAML file per adapter, a folder of them per collector.

The only I/O of the package. A duplicate key in a mapping is refused (YAML would keep the last
one silently, and a second rule for one field is a mistake, not an override).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from adapters.adapter import Adapter, AdapterSet
from adapters.errors import AdapterError
from adapters.spec import parse_adapter

__all__ = ["ADAPTER_SUFFIXES", "load_adapter", "load_adapters"]

ADAPTER_SUFFIXES = (".yaml", ".yml")
# An adapter is a page of rules; a bigger file is a mistake (or not an adapter).
MAX_FILE_BYTES = 1_048_576


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses duplicate keys."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be text or a number", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_adapter(path: Path) -> Adapter:
    """The adapter in ``path``.

    Raises:
        AdapterError: The file cannot be read, is not YAML, or is not a usable adapter; the
            message names the file (and the line, the rule and the field where there is one).
    """
    name = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise AdapterError(name, f"larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdapterError(name, f"cannot read: {exc}") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise AdapterError(name, f"{line}not valid YAML: {problem}") from None
    return parse_adapter(data, path=name)


def load_adapters(directory: Path, *, prefix: str = "city") -> AdapterSet:
    """Every adapter file (``*.yaml``, ``*.yml``) directly in ``directory``, as one set.

    Raises:
        AdapterError: The folder is missing, or a file in it is not a usable adapter, or two
            adapters clash (same name, overlapping topics).
    """
    if not directory.is_dir():
        raise AdapterError(str(directory), "not a folder of adapter files")
    files = sorted(p for p in directory.iterdir() if p.suffix in ADAPTER_SUFFIXES and p.is_file())
    return AdapterSet((load_adapter(p) for p in files), prefix=prefix)
