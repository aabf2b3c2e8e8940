"""Adapters at run time: which rule a topic falls under, and its native payload → an Envelope.

An :class:`Adapter` is one vendor's file: its name (recorded as ``source_format``
``adapter:<name>``), its vendor slug, its facility and its message rules. A rule's topic pattern
lies inside the vendor's own subtree, ``{prefix}/{facility}/{vendor}/...``, which the broker's
ACL (``pattern write city/+/%u/#``) lets only that vendor's MQTT user write: the vendor an
adapter attributes a message to is the one the broker authenticated, as for platform JSON. The
collector subscribes to ``{prefix}/#`` and nothing else, so adapted topics need no subscription
and no ACL line of their own.

:meth:`AdapterSet.match` picks the rule of a topic (a dict look-up by vendor, then a comparison
of levels with the vendor's few rules); :func:`decode_adapted` parses the native JSON, maps it
with the rule's fields onto the platform's wire message and runs :func:`schemas.decode` on that,
so an adapted message passes exactly the checks a native one does. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from pydantic_core import from_json, to_json

from adapters.errors import AdapterError
from adapters.fields import FieldRule, Unmappable, map_fields
from core.types import MAX_PAYLOAD_BYTES
from schemas import Channel, Envelope, Facility, Rejected, RejectReason, Topic, decode, parse_topic

__all__ = ["Adapter", "AdapterSet", "Match", "MessageRule", "decode_adapted", "parse_native"]

DEVICE_ID = "{device_id}"
ANY_LEVEL = "+"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRule:
    """One entry of an adapter's ``messages``: a topic pattern and the fields it maps.

    ``levels`` is the pattern below the prefix, one entry per topic level: a literal, or None for
    ``+`` and ``{device_id}`` (whose position is ``device_level``).
    """

    adapter: str
    name: str
    pattern: str
    levels: tuple[str | None, ...]
    device_level: int
    facility: Facility
    channel: Channel
    fields: tuple[FieldRule, ...]

    def matches(self, levels: list[str]) -> bool:
        """Whether the topic ``levels`` (below the prefix) fall under this rule's pattern."""
        if len(levels) != len(self.levels):
            return False
        return all(
            want is None or want == got for want, got in zip(self.levels, levels, strict=True)
        )

    def overlaps(self, other: MessageRule) -> bool:
        """Whether one topic could match both patterns (then which rule applies is ambiguous)."""
        if len(self.levels) != len(other.levels):
            return False
        return all(
            a is None or b is None or a == b for a, b in zip(self.levels, other.levels, strict=True)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Adapter:
    """One adapter file, compiled."""

    name: str
    vendor: str
    facility: Facility
    messages: tuple[MessageRule, ...]
    path: str = "<adapter>"

    @property
    def source_format(self) -> str:
        """What the envelopes of its messages record as ``source_format``."""
        return f"adapter:{self.name}"


class Match(NamedTuple):
    """A topic an adapter takes: the platform topic it stands for, and the rule that maps it."""

    topic: Topic
    rule: MessageRule
    source_format: str


class AdapterSet:
    """The adapters of one collector, indexed by vendor for a fast miss.

    Raises (at construction):
        AdapterError: Two adapters share a name, or two rules' topic patterns overlap.
    """

    def __init__(self, adapters: Iterable[Adapter], *, prefix: str = "city") -> None:
        self.prefix = prefix
        self.adapters = tuple(adapters)
        self._by_vendor: dict[str, list[tuple[MessageRule, Adapter]]] = {}
        names: dict[str, Adapter] = {}
        for adapter in self.adapters:
            if (first := names.get(adapter.name)) is not None:
                raise AdapterError(
                    adapter.path, f"adapter name {adapter.name!r} is also {first.path}'s"
                )
            names[adapter.name] = adapter
            rules = self._by_vendor.setdefault(adapter.vendor, [])
            for rule in adapter.messages:
                for other, owner in rules:
                    if rule.overlaps(other):
                        raise AdapterError(
                            adapter.path,
                            f"pattern {rule.pattern!r} overlaps {other.pattern!r} "
                            f"(rule {other.name!r} of {owner.path}): one topic, two rules",
                            rule=rule.name,
                            field="topic",
                        )
                rules.append((rule, adapter))

    def __len__(self) -> int:
        return len(self.adapters)

    def match(self, topic: str) -> Match | None:
        """The adapter rule ``topic`` falls under, or None (then the topic is platform JSON).

        Raises:
            Rejected: ``bad_topic`` when a rule matches but the device id level is not a valid
                device id.
        """
        parts = topic.split("/")
        # prefix/facility/vendor/...: a topic without a vendor level is no adapter's.
        if len(parts) < 4 or parts[0] != self.prefix:
            return None
        rules = self._by_vendor.get(parts[2])
        if rules is None:
            return None
        levels = parts[1:]
        for rule, adapter in rules:
            if rule.matches(levels):
                device_id = levels[rule.device_level]
                canonical = "/".join(
                    (
                        self.prefix,
                        rule.facility.value,
                        adapter.vendor,
                        device_id,
                        rule.channel.value,
                    )
                )
                return Match(
                    parse_topic(canonical, prefix=self.prefix), rule, adapter.source_format
                )
        return None


def parse_native(payload: bytes) -> dict[str, Any]:
    """The vendor's JSON object.

    Raises:
        Rejected: ``bad_encoding`` (not UTF-8) or ``bad_json`` (not JSON, not an object, NaN or
            Infinity, nested too deep for the parser).
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(
            RejectReason.BAD_ENCODING, f"not UTF-8 at byte {exc.start}: {exc.reason}"
        ) from None
    try:
        # pydantic's Rust parser: a quarter of json.loads' time, and a recursion limit of its own.
        native = from_json(text, allow_inf_nan=False)
    except ValueError as exc:
        raise Rejected(RejectReason.BAD_JSON, f"Invalid JSON: {exc}") from None
    if not isinstance(native, dict):
        raise Rejected(RejectReason.BAD_JSON, "payload must be a JSON object")
    return native


def decode_adapted(
    match: Match,
    payload: bytes,
    *,
    received_at: datetime,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> Envelope:
    """Map the native ``payload`` with ``match``'s rule, then validate it as platform JSON.

    Raises:
        Rejected: The payload cannot be parsed or mapped (``invalid_field`` naming the native
            path), or the mapped message breaks the contract (the reason ``decode`` gives,
            naming the platform's field); each detail names the adapter and the rule.
    """
    rule = match.rule
    native = parse_native(payload)
    try:
        wire = map_fields(rule.fields, native)
    except Unmappable as exc:
        raise Rejected(
            RejectReason.INVALID_FIELD,
            f"{exc.field}: {exc.problem} (adapter {rule.adapter!r} rule {rule.name!r})",
            field=exc.where if exc.where is not None else exc.field,
        ) from None
    # A number too large for a float (1e400) parses as infinity: written as a string, it is
    # refused by the field's type like any other wrong value, never passed on as null.
    mapped = to_json(wire, inf_nan_mode="strings")
    try:
        return decode(
            str(match.topic),
            mapped,
            received_at=received_at,
            prefix=match.topic.prefix,
            max_bytes=max_bytes,
            source_format=match.source_format,
        )
    except Rejected as exc:
        # The dead letter carries the native payload: name the native path where one is known.
        path = _native_path(rule.fields, exc.field) if exc.field is not None else None
        platform = f"{exc.field}: " if path is not None else ""
        raise Rejected(
            exc.reason,
            f"{platform}{exc.detail} (after adapter {rule.adapter!r} rule {rule.name!r})",
            field=path if path is not None else exc.field,
        ) from None


_INDEXED = re.compile(r"([^.\[]+)(?:\[(\d+)\])?(?:\.(.+))?")


def _native_path(rules: tuple[FieldRule, ...], field: str) -> str | None:
    """The native path a platform field (``bins[1].filling_level_pct``) was read from, if one.

    None when the field was made by a constant or an expression over several paths.
    """
    match = _INDEXED.fullmatch(field)
    if match is None:
        return None
    name, index, rest = match.groups()
    rule = next((r for r in rules if r.name == name), None)
    if rule is None or rule.where is None:
        return None
    if rest is None:
        return rule.where if index is None else f"{rule.where}[{index}]"
    if rule.each is None or index is None:
        return None
    inner = _native_path(rule.each, rest)
    return f"{rule.where}[{index}].{inner}" if inner is not None else None
