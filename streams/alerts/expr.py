"""The small expression language of rule files: durations, conditions, field paths, summaries.

Each type parses from the short string people write in YAML (``30m``, ``"> 10"``,
``bins[].filling_level_pct``) and fails with a message that says what was expected.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import string
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, PlainSerializer

from schemas.catalog import message_type_of_kind

__all__ = [
    "TEMPLATE_FIELDS",
    "Condition",
    "Duration",
    "FieldPath",
    "check_template",
    "conditions_overlap",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` → seconds (float, ≥ 0)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 30m or 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    else:
        raise ValueError(f"expected a duration such as 90s, 30m or 2h, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be finite and ≥ 0, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds; written in YAML as ``90s``, ``30m``, ``2h``, ``1d`` or a plain number of seconds."""

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Condition:
    """``"> 10"``: an operator and a number; ``true``/``false`` stand for 1 and 0."""

    op: str
    value: float

    def __call__(self, x: float) -> bool:
        return _OPS[self.op](x, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"

    @classmethod
    def parse(cls, raw: Any) -> Condition:
        if isinstance(raw, Condition):
            return raw
        match = _CONDITION.match(str(raw)) if isinstance(raw, str) else None
        if match is None:
            raise ValueError(f'expected an operator and a number, e.g. "> 10", got {raw!r}')
        op, number = match.groups()
        words = {"true": 1.0, "false": 0.0}
        try:
            value = words[number.lower()] if number.lower() in words else float(number)
        except ValueError:
            raise ValueError(f"not a number: {number!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"threshold must be finite, got {number!r}")
        return cls(op, value)


ConditionField = Annotated[
    Condition, BeforeValidator(Condition.parse), PlainSerializer(str, return_type=str)
]


def conditions_overlap(fire: Condition, resolve: Condition) -> bool:
    """True when some value satisfies both: the alert would fire and resolve on the same value.

    Both sets are half-lines, points or complements of a point, so checking the boundaries,
    points just beside them and far values is exhaustive.
    """
    bounds = (fire.value, resolve.value)
    eps = 1e-9 * max(1.0, *(abs(b) for b in bounds))
    candidates = {b + d for b in bounds for d in (-eps, 0.0, eps)}
    candidates |= {sum(bounds) / 2, min(bounds) - 1e9, max(bounds) + 1e9}
    return any(fire(x) and resolve(x) for x in candidates)


# Tried in order to name a list item (a bin, a slot) in the alert's subject; after them, the
# item's first ``*_id`` field (a cabinet_id, a gate_id: a new facility's lists need no entry here).
ITEM_KEYS = ("bin_id", "slot", "category")


@dataclass(frozen=True)
class FieldPath:
    """A numeric or boolean body field: ``temperature_c`` or ``bins[].filling_level_pct``.

    A ``[]`` segment makes one subject per list item, named by its ``bin_id``/``slot``/``category``
    or else its first ``*_id`` field.
    """

    list_name: str | None
    name: str

    @classmethod
    def parse(cls, raw: str, kind: str) -> FieldPath:
        try:
            body = message_type_of_kind(kind).body
        except KeyError:
            raise ValueError(f"unknown message kind {kind!r}") from None
        head, sep, tail = raw.partition("[].")
        model: type[BaseModel] = body
        list_name = None
        if sep:
            list_name = head
            info = body.model_fields.get(head)
            inner = _model_in(info.annotation) if info else None
            if inner is None:
                raise ValueError(f"{kind} has no list of objects named {head!r}")
            model, head = inner, tail
        info = model.model_fields.get(head)
        if info is None or not _numeric(info.annotation):
            fields = sorted(n for n, f in model.model_fields.items() if _numeric(f.annotation))
            raise ValueError(f"{raw!r} is not a numeric field of {kind}; numeric fields: {fields}")
        return cls(list_name, head)

    def values(self, body: BaseModel) -> list[tuple[str | None, float]]:
        """``[(item name or None, value)]``; absent (None) values are left out."""
        if self.list_name is None:
            value = _number(getattr(body, self.name, None))
            return [] if value is None else [(None, value)]
        out: list[tuple[str | None, float]] = []
        for index, item in enumerate(getattr(body, self.list_name, None) or ()):
            value = _number(getattr(item, self.name, None))
            if value is not None:
                model: type[BaseModel] = type(item)
                keys = (getattr(item, k, None) for k in _item_keys(model))
                out.append((str(next((k for k in keys if k), index)), value))
        return out

    def __str__(self) -> str:
        return self.name if self.list_name is None else f"{self.list_name}[].{self.name}"


@functools.cache
def _item_keys(model: type[BaseModel]) -> tuple[str, ...]:
    ids = tuple(n for n in model.model_fields if n.endswith("_id") and n not in ITEM_KEYS)
    return (*ITEM_KEYS, *ids)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


def _numeric(annotation: Any) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return any(a in (int, float, bool) or _numeric_annotated(a) for a in args)


def _numeric_annotated(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin is Annotated and _numeric(typing.get_args(annotation)[0])


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        found = _model_in(arg)
        if found is not None:
            return found
    return None


TEMPLATE_FIELDS = frozenset(
    {"rule", "device_id", "facility", "vendor", "district", "item", "value"}
)


def check_template(template: str) -> str:
    """Reject placeholders the engine cannot fill, at load time rather than at 3 a.m."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"bad template: {exc}") from None
    unknown = sorted(n for n in names if n not in TEMPLATE_FIELDS)
    if unknown:
        raise ValueError(f"unknown placeholders {unknown}; allowed: {sorted(TEMPLATE_FIELDS)}")
    return template
