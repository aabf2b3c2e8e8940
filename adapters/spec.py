"""An adapter file's contents (parsed YAML) → a compiled :class:`~adapters.adapter.Adapter`.

Everything that can be checked without a payload is checked here, once, at load: the header, each
rule's topic pattern (inside the vendor's own subtree), its channel (one of the facility's), each
output field (a field of that message type; every required field has a rule), each path,
conversion and expression, and every constant, default and map value against the platform's
type of its field. A problem raises :class:`~adapters.errors.AdapterError` naming the file, the
rule and the field. The file format is described in adapters/README.md.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from adapters.adapter import ANY_LEVEL, DEVICE_ID, Adapter, MessageRule
from adapters.convert import CONVERSIONS
from adapters.errors import AdapterError
from adapters.expr import compile_expr
from adapters.fields import FieldRule, Source, enum_key
from adapters.paths import MISSING, format_path, get, parse_path
from schemas import CHANNELS_BY_FACILITY, Channel, Facility, message_type
from schemas.envelope import ADAPTER_NAME_PATTERN
from schemas.topic import VENDOR_PATTERN

__all__ = ["parse_adapter"]

_HEADER_KEYS = {"adapter", "vendor", "facility", "description", "messages"}
_RULE_KEYS = {"topic", "channel", "description", "fields"}
_SOURCE_KEYS = ("from", "const", "expr")
_FIELD_KEYS = {*_SOURCE_KEYS, "optional", "default", "map", "otherwise", "convert", "round", "each"}
_RULE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Deep enough for any vendor's gateway prefix; a topic is not a path through a file system.
MAX_TOPIC_LEVELS = 8
_MAX_DIGITS = 9
_E = TypeVar("_E", Facility, Channel)


class _Where:
    """Raises AdapterError at one place of one file."""

    def __init__(self, path: str, rule: str | None = None, field: str | None = None) -> None:
        self.path, self.rule, self.field = path, rule, field

    def at(self, *, rule: str | None = None, field: str | None = None) -> _Where:
        return _Where(self.path, rule or self.rule, field or self.field)

    def error(self, problem: str) -> AdapterError:
        return AdapterError(self.path, problem, rule=self.rule, field=self.field)


def parse_adapter(data: Any, *, path: str = "<adapter>") -> Adapter:
    """Compile an adapter from the parsed YAML of its file; ``path`` is named in errors.

    Raises:
        AdapterError: The file is not a usable adapter (first problem found).
    """
    top = _Where(path)
    header = _mapping(
        data, "the file must be a mapping of adapter, vendor, facility, messages", top
    )
    _keys(header, _HEADER_KEYS, {"adapter", "vendor", "facility", "messages"}, top)
    name = _text(header["adapter"], ADAPTER_NAME_PATTERN, top.at(field="adapter"))
    vendor = _text(header["vendor"], VENDOR_PATTERN, top.at(field="vendor"))
    facility = _enum(header["facility"], Facility, top.at(field="facility"))
    messages = _mapping(
        header["messages"], "must map rule names to rules", top.at(field="messages")
    )
    if not messages:
        raise top.at(field="messages").error("no rules: give at least one")
    rules = []
    for rule_name, rule in messages.items():
        where = top.at(rule=str(rule_name))
        if not isinstance(rule_name, str) or not _RULE_NAME.fullmatch(rule_name):
            raise where.error(f"a rule name must match {_RULE_NAME.pattern}")
        rules.append(_rule(rule, name, vendor, facility, where))
    return Adapter(name=name, vendor=vendor, facility=facility, messages=tuple(rules), path=path)


def _rule(data: Any, adapter: str, vendor: str, facility: Facility, where: _Where) -> MessageRule:
    body = _mapping(data, "a rule must be a mapping of topic, channel, fields", where)
    _keys(body, _RULE_KEYS, {"topic", "channel", "fields"}, where)
    channel = _enum(body["channel"], Channel, where.at(field="channel"))
    if channel not in CHANNELS_BY_FACILITY[facility]:
        allowed = sorted(c.value for c in CHANNELS_BY_FACILITY[facility])
        raise where.at(field="channel").error(
            f"{channel.value!r} is not a channel of {facility.value} ({', '.join(allowed)})"
        )
    pattern = body["topic"]
    levels, device_level = _topic(pattern, vendor, facility, channel, where.at(field="topic"))
    model = message_type(facility, channel).wire
    fields = _fields(body["fields"], model, where)
    return MessageRule(
        adapter=adapter,
        name=str(where.rule),
        pattern=pattern,
        levels=levels,
        device_level=device_level,
        facility=facility,
        channel=channel,
        fields=fields,
    )


def _topic(
    pattern: Any, vendor: str, facility: Facility, channel: Channel, where: _Where
) -> tuple[tuple[str | None, ...], int]:
    """The levels of a topic pattern (below the prefix) and the position of ``{device_id}``."""
    if not isinstance(pattern, str):
        raise where.error("expected a topic pattern such as vending/acme/{device_id}/data")
    levels = pattern.split("/")
    head = f"{facility.value}/{vendor}/"
    if not pattern.startswith(head):
        # The ACL line `pattern write city/+/%u/#` pins the vendor to the third level: a pattern
        # elsewhere would attribute to this vendor what any vendor may publish.
        raise where.error(
            f"must start with {head!r}: the broker lets {vendor!r} write only below "
            f"<prefix>/+/{vendor}/, so only topics there can be its"
        )
    if not 3 <= len(levels) <= MAX_TOPIC_LEVELS:
        raise where.error(f"expected 3 to {MAX_TOPIC_LEVELS} levels below the prefix")
    rest = levels[2:]
    if rest.count(DEVICE_ID) != 1:
        raise where.error(f"name the device id level with {DEVICE_ID} exactly once")
    for level in rest:
        if level not in (DEVICE_ID, ANY_LEVEL) and (not level or set(level) & set("+#{}")):
            raise where.error(
                f"level {level!r}: use a name, + or {DEVICE_ID} (no #, no empty level)"
            )
    if len(rest) == 2 and rest[0] == DEVICE_ID and rest[1] in set(Channel) and rest[1] != channel:
        raise where.error(
            f"a platform topic keeps its channel: {rest[1]!r} cannot carry {channel.value!r}"
        )
    compiled = tuple(None if level in (DEVICE_ID, ANY_LEVEL) else level for level in levels)
    return compiled, levels.index(DEVICE_ID)


def _fields(
    data: Any, model: type[BaseModel], where: _Where, *, prefix: str = ""
) -> tuple[FieldRule, ...]:
    """The rules of ``fields`` (or of an ``each``, whose fields are named ``bins[].category``)."""
    specs = _mapping(
        data,
        "must map platform field names to rules",
        where if prefix else where.at(field="fields"),
    )
    known = model.model_fields
    rules = []
    for name, spec in specs.items():
        at = where.at(field=f"{prefix}{name}")
        if name not in known:
            raise at.error(f"not a field of {model.__name__} (fields: {', '.join(sorted(known))})")
        rules.append(_field(name, spec, model, at))
    for name, info in known.items():
        rule = next((r for r in rules if r.name == name), None)
        if info.is_required() and (rule is None or (rule.optional and rule.default is MISSING)):
            raise where.at(field=f"{prefix}{name}").error(
                f"required by {model.__name__}: give it a rule that is not optional"
            )
    return tuple(rules)


def _field(name: str, spec: Any, model: type[BaseModel], where: _Where) -> FieldRule:
    if isinstance(spec, str):
        spec = {"from": spec}  # shorthand: `sku: item.code`
    spec = _mapping(
        spec, "expected a path (item.code) or a mapping with from, const or expr", where
    )
    unknown = set(spec) - _FIELD_KEYS
    if unknown:
        raise where.error(
            f"unknown key(s) {sorted(map(str, unknown))}; known: {sorted(_FIELD_KEYS)}"
        )
    sources = [key for key in _SOURCE_KEYS if key in spec]
    if len(sources) != 1:
        raise where.error("give exactly one of from, const, expr")
    kind = sources[0]
    info = model.model_fields[name]
    # The field's type with its constraints (ranges, patterns), as the platform validates it.
    field_type: Any = Annotated[info.annotation, info]
    check = partial(_check_value, TypeAdapter(field_type))
    if kind == "const":
        if set(spec) != {"const"}:
            raise where.error("const stands alone (no other keys)")
        value = spec["const"]
        check(value, "const", where)
        return FieldRule(name=name, source=lambda _native: value)
    source, native_path = _source(kind, spec[kind], where)
    convert_name = spec.get("convert")
    if convert_name is not None and convert_name not in CONVERSIONS:
        raise where.error(
            f"unknown conversion {convert_name!r}; known: {', '.join(sorted(CONVERSIONS))}"
        )
    optional = spec.get("optional", False)
    if not isinstance(optional, bool):
        raise where.error("optional must be true or false")
    default = spec.get("default", MISSING)
    if default is not MISSING:
        check(default, "default", where)
    digits = spec.get("round")
    if digits is not None and not (type(digits) is int and 0 <= digits <= _MAX_DIGITS):
        raise where.error(f"round must be a whole number of digits, 0 to {_MAX_DIGITS}")
    enum, otherwise = _enum_map(spec, check if convert_name is None else None, where)
    each = None
    if "each" in spec:
        each = _each(spec, kind, info.annotation, where)
    return FieldRule(
        name=name,
        source=source,
        where=native_path,
        default=default,
        optional=optional,
        enum=enum,
        otherwise=otherwise,
        convert=CONVERSIONS[convert_name] if convert_name is not None else None,
        convert_name=convert_name,
        digits=digits,
        each=each,
    )


def _source(kind: str, text: Any, where: _Where) -> tuple[Source, str | None]:
    """The reader of ``from`` or ``expr`` and the native path to name in errors."""
    if not isinstance(text, str):
        raise where.error(f"{kind} must be text")
    try:
        if kind == "from":
            steps = parse_path(text)
            if len(steps) == 1 and isinstance(key := steps[0], str):
                return partial(_top_level, key=key), key  # most fields: one dict look-up
            return partial(get, path=steps), format_path(steps)
        expr, paths = compile_expr(text)
    except ValueError as exc:
        raise where.error(f"{kind}: {exc}") from None
    # One path read: errors name it; several: EvalError names the one at fault.
    return expr, format_path(paths[0]) if len(set(paths)) == 1 else None


def _top_level(native: Any, *, key: str) -> Any:
    return native.get(key, MISSING) if type(native) is dict else MISSING


def _enum_map(
    spec: Mapping[str, Any], check: Any, where: _Where
) -> tuple[dict[tuple[bool, Any], Any] | None, Any]:
    otherwise = spec.get("otherwise", MISSING)
    if "map" not in spec:
        if otherwise is not MISSING:
            raise where.error("otherwise needs a map")
        return None, MISSING
    table = _mapping(spec["map"], "map must be a mapping of native value to platform value", where)
    if not table:
        raise where.error("map is empty")
    enum = {}
    for native, value in table.items():
        if native is None or not isinstance(native, str | int | float):
            raise where.error(f"map key {native!r}: use text, numbers or true/false")
        if check is not None:
            check(value, f"map value for {native!r}", where)
        enum[enum_key(native)] = value
    if otherwise is not MISSING and check is not None:
        check(otherwise, "otherwise", where)
    return enum, otherwise


def _each(
    spec: Mapping[str, Any], kind: str, annotation: Any, where: _Where
) -> tuple[FieldRule, ...]:
    if kind != "from" or {"map", "convert", "round", "otherwise"} & set(spec):
        raise where.error("each takes a from path and no map, convert or round")
    item = _item_model(annotation)
    if item is None:
        raise where.error("each is for a list of objects; this field is not one")
    return _fields(spec["each"], item, where, prefix=f"{where.field}[].")


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """``M`` of ``list[M]`` or ``list[M] | None``, where M is a model; else None."""
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            return None
        annotation = inner[0]
    if get_origin(annotation) is not list:
        return None
    (item,) = get_args(annotation)
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _check_value(adapter: TypeAdapter[Any], value: Any, what: str, where: _Where) -> None:
    """Refuse a value the platform would refuse in this field (as JSON, strictly)."""
    try:
        adapter.validate_json(json.dumps(value, default=str), strict=True)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        raise where.error(
            f"{what} {value!r:.60} is refused by the platform: {error['msg']}"
        ) from None


def _mapping(value: Any, problem: str, where: _Where) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise where.error(problem)
    return value


def _keys(data: Mapping[Any, Any], known: set[str], required: set[str], where: _Where) -> None:
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise where.error(f"unknown key(s) {unknown}; known: {sorted(known)}")
    missing = sorted(required - set(data))
    if missing:
        raise where.error(f"missing key(s) {missing}")


def _text(value: Any, pattern: str, where: _Where) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise where.error(f"{value!r:.60} does not match {pattern}")
    return value


def _enum(value: Any, enum: type[_E], where: _Where) -> _E:
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(member.value for member in enum)
        raise where.error(f"{value!r:.60} is not one of {known}") from None
