"""Field rules at run time: one native JSON object → the platform's wire fields.

A :class:`FieldRule` is one entry of an adapter rule's ``fields``, compiled by ``adapters.spec``.
Its steps, in order: take the value (a payload path, a constant or an expression); an absent
value (or JSON ``null``) takes the rule's default, is left out when optional, or fails; then the
enum map, the conversion, the rounding; a list of objects maps each element with its own rules.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.convert import Conversion, ConversionError
from adapters.expr import EvalError
from adapters.paths import MISSING

__all__ = ["FieldRule", "Source", "Unmappable", "enum_key", "map_fields"]

Source = Callable[[Any], Any]
"""Reads a field's value from the native object; returns MISSING when absent."""


class Unmappable(Exception):
    """A native value a rule cannot map.

    Attributes:
        field: The output field (``amount_fen``, ``bins[1].category``).
        where: The native path at fault (``item.price``), or None when no single path is.
        problem: What was wrong.
    """

    def __init__(self, field: str, problem: str, *, where: str | None) -> None:
        super().__init__(problem)
        self.field = field
        self.where = where
        self.problem = problem


def enum_key(value: Any) -> tuple[bool, Any]:
    """The key of ``value`` in an enum map: keeps ``true`` apart from ``1`` (equal in Python)."""
    return (isinstance(value, bool), value)


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldRule:
    """How one output field is made. ``where`` is the native path, for messages."""

    name: str
    source: Source
    where: str | None = None
    default: Any = MISSING
    optional: bool = False
    enum: Mapping[tuple[bool, Any], Any] | None = None
    otherwise: Any = MISSING
    convert: Conversion | None = None
    convert_name: str | None = None
    digits: int | None = None
    each: tuple[FieldRule, ...] | None = None

    def value(self, native: Any, *, prefix: str = "") -> Any:
        """The output value, or MISSING to leave the field out.

        Raises:
            Unmappable: The value is absent and required, or cannot be mapped.
        """
        name = prefix + self.name
        try:
            value = self.source(native)
        except EvalError as exc:
            raise Unmappable(name, str(exc), where=exc.path) from None
        if value is MISSING or value is None:
            if self.default is not MISSING:
                return self.default
            if self.optional:
                return MISSING
            what = "absent" if value is MISSING else "null"
            raise Unmappable(name, f"required, and {what} in the payload", where=self.where)
        if self.each is not None:
            return self._each(value, name)
        if self.enum is not None:
            if not isinstance(value, str | int | float):  # bool is an int
                raise Unmappable(
                    name,
                    f"expected text, a number or a boolean to map, got {type(value).__name__}",
                    where=self.where,
                )
            mapped = self.enum.get(enum_key(value), self.otherwise)
            if mapped is MISSING:
                known = ", ".join(repr(k[1]) for k in self.enum)
                raise Unmappable(
                    name, f"{value!r:.40} is not in the rule's map ({known})", where=self.where
                )
            value = mapped
        if self.convert is not None:
            try:
                value = self.convert(value)
            except ConversionError as exc:
                raise Unmappable(name, f"{self.convert_name}: {exc}", where=self.where) from None
        if self.digits is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Unmappable(
                    name, f"round: expected a number, got {type(value).__name__}", where=self.where
                )
            value = round(value, self.digits)
        return value

    def _each(self, value: Any, name: str) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise Unmappable(
                name, f"expected an array, got {type(value).__name__}", where=self.where
            )
        assert self.each is not None
        out = []
        for index, element in enumerate(value):
            try:
                out.append(map_fields(self.each, element, prefix=f"{name}[{index}]."))
            except Unmappable as exc:
                where = f"{self.where}[{index}]"
                if exc.where is not None:
                    where += f".{exc.where}"
                raise Unmappable(exc.field, exc.problem, where=where) from None
        return out


def map_fields(rules: tuple[FieldRule, ...], native: Any, *, prefix: str = "") -> dict[str, Any]:
    """The output object of ``rules`` over ``native`` (a JSON object or an array element).

    Raises:
        Unmappable: The first field that cannot be made.
    """
    out: dict[str, Any] = {}
    for rule in rules:
        value = rule.value(native, prefix=prefix)
        if value is not MISSING:
            out[rule.name] = value
    return out
