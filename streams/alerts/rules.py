"""Alert rules as data: pydantic models of the rules YAML file and its loader.

A file holds ``zones`` (named areas for geofences) and ``rules``; each rule has a ``type`` that
picks its model: ``threshold``, ``rate_of_change``, ``absence``, ``offline`` or ``geofence``.
Every rule has an ``id`` (stable: it is part of each alert's fingerprint), a ``severity``,
``labels``, a ``scope`` and bilingual summaries. ``docs/alerts.md`` describes the format;
``default_rules.yaml`` beside this module is the shipped rule set.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from core.errors import CityiotError
from schemas.alert import Severity
from schemas.envelope import Envelope
from schemas.mobility import AssetType
from schemas.topic import Facility
from streams.alerts.expr import (
    ConditionField,
    Duration,
    FieldPath,
    check_template,
    conditions_overlap,
)

__all__ = [
    "DEFAULT_RULES",
    "AbsenceRule",
    "ActiveHours",
    "GeofenceRule",
    "OfflineRule",
    "RateOfChangeRule",
    "Rule",
    "RuleSet",
    "RulesError",
    "Scope",
    "ThresholdRule",
    "Zone",
    "load_rules",
    "parse_rules",
]

DEFAULT_RULES = "default_rules.yaml"

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
# Prometheus label names, so the Alertmanager format can carry them unchanged.
LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Adcode = Annotated[str, Field(pattern=r"^\d{6}$")]
Template = Annotated[str, Field(min_length=1, max_length=500)]
# Labels the engine sets itself; a rule overriding them would make the alert lie.
RESERVED_LABELS = frozenset(
    {"alertname", "severity", "device_id", "facility", "vendor", "district", "rule_type"}
)


class RulesError(CityiotError):
    """The rules file cannot be read or does not validate; the message names rule and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Scope(_Strict):
    """Which devices a rule watches; an absent list means "any"."""

    facility: list[Facility] | None = None
    vendor: list[str] | None = None
    district: list[Adcode] | None = Field(None, description="District adcodes, e.g. 330203.")
    device: list[str] | None = None

    def matches(self, envelope: Envelope) -> bool:
        enrichment = envelope.enrichment
        district = enrichment.district_adcode if enrichment else None
        return (
            (self.facility is None or envelope.facility in self.facility)
            and (self.vendor is None or envelope.vendor in self.vendor)
            and (self.district is None or district in self.district)
            and (self.device is None or envelope.device_id in self.device)
        )


class ActiveHours(_Strict):
    """Local opening hours, e.g. 07:00-22:00 Asia/Shanghai; ``start > end`` spans midnight."""

    start: time
    end: time
    tz: str = "Asia/Shanghai"

    @model_validator(mode="after")
    def _check(self) -> ActiveHours:
        if self.start == self.end:
            raise ValueError("start and end are equal; leave active_hours out for all day")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.tz!r}") from None
        return self

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.tz)).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def advance(self, since: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of opening time have passed after ``since``.

        Deterministic (no clock), so a replayed tick computes the same alert start.
        """
        zone = ZoneInfo(self.tz)
        day = since.astimezone(zone).date() - timedelta(days=1)
        remaining = timedelta(seconds=seconds)
        while True:
            start = datetime.combine(day, self.start, zone)
            end_day = day if self.start < self.end else day + timedelta(days=1)
            end = datetime.combine(end_day, self.end, zone)
            start = max(start, since)
            if end > start:
                if remaining <= end - start:
                    return start + remaining
                remaining -= end - start
            day += timedelta(days=1)


class _RuleBase(_Strict):
    id: Slug = Field(description="Stable id: part of every alert's fingerprint.")
    severity: Severity = Severity.WARNING
    labels: dict[LabelName, str] = Field(default_factory=dict)
    scope: Scope = Field(default_factory=Scope)
    summary_zh: Template
    summary_en: Template
    enabled: bool = True

    @model_validator(mode="after")
    def _check_base(self) -> _RuleBase:
        check_template(self.summary_zh)
        check_template(self.summary_en)
        reserved = sorted(RESERVED_LABELS & set(self.labels))
        if reserved:
            raise ValueError(f"labels {reserved} are set by the engine; choose other names")
        return self


class _ConditionRule(_RuleBase):
    kind: str = Field(description="Message kind, e.g. vending_telemetry.")
    field: str = Field(description="Numeric field, e.g. temperature_c or bins[].filling_level_pct.")
    fire_when: ConditionField
    resolve_when: ConditionField | None = Field(
        None, description="Recovery condition (hysteresis); default: fire_when no longer holds."
    )
    for_: Duration = Field(0.0, alias="for", description="How long fire_when must hold.")
    resolve_for: Duration = Field(0.0, description="How long resolve_when must hold.")
    item_label: LabelName = Field("item", description="Label naming the list item (bins[]...).")
    _path: FieldPath = PrivateAttr()

    @model_validator(mode="after")
    def _check_condition(self) -> _ConditionRule:
        self._path = FieldPath.parse(self.field, self.kind)
        if self.resolve_when is not None and conditions_overlap(self.fire_when, self.resolve_when):
            raise ValueError(
                f"fire_when {self.fire_when} and resolve_when {self.resolve_when} overlap: "
                "a value would both fire and resolve"
            )
        return self

    @property
    def path(self) -> FieldPath:
        return self._path

    def should_resolve(self, value: float) -> bool:
        if self.resolve_when is None:
            return not self.fire_when(value)
        return self.resolve_when(value)


class ThresholdRule(_ConditionRule):
    """Fires when a field meets ``fire_when`` for ``for``; resolves on ``resolve_when``."""

    type: Literal["threshold"]


class RateOfChangeRule(_ConditionRule):
    """Like a threshold, on the field's change per ``per`` between consecutive messages."""

    type: Literal["rate_of_change"]
    per: Duration = Field(60.0, gt=0, description="Rate unit: change per this many seconds.")
    max_gap: Duration = Field(
        3600.0,
        gt=0,
        description="Messages farther apart than this give no rate (a gap, not a jump).",
    )


class AbsenceRule(_RuleBase):
    """Fires when no message of ``kind`` arrived for ``for`` (counting only active hours)."""

    type: Literal["absence"]
    kind: str
    for_: Duration = Field(alias="for", gt=0)
    active_hours: ActiveHours | None = None


class OfflineRule(_RuleBase):
    """Fires when a device reports offline, or sends nothing for its silence limit."""

    type: Literal["offline"]
    after: Duration = Field(900.0, gt=0, description="Silence limit when no interval is known.")
    missed_intervals: int | None = Field(
        3, ge=1, description="Silence limit = this × the device's registered expected interval."
    )
    grace: Duration = Field(0.0, description="How long a reported 'offline' must last.")

    def silence_limit(self, expected_interval_s: int | None) -> float:
        if expected_interval_s and self.missed_intervals:
            return float(expected_interval_s * self.missed_intervals)
        return self.after


class GeofenceRule(_RuleBase):
    """Fires when a mobile asset is outside its service area (or inside a forbidden one)."""

    type: Literal["geofence"]
    zone: Slug = Field(description="A name under the file's zones.")
    mode: Literal["stay_inside", "stay_outside"] = "stay_inside"
    for_: Duration = Field(0.0, alias="for", description="Debounce GNSS jitter at the border.")
    resolve_for: Duration = 0.0
    max_hdop: float | None = Field(
        5.0, gt=0, description="Fixes less precise than this are skipped."
    )
    asset_types: list[AssetType] | None = None


Rule = Annotated[
    ThresholdRule | RateOfChangeRule | AbsenceRule | OfflineRule | GeofenceRule,
    Field(discriminator="type"),
]

LonLat = tuple[float, float]


class Zone(_Strict):
    """An area: Ningbo districts (``all`` or adcodes) or WGS-84 polygons of ``[lon, lat]``."""

    districts: Literal["all"] | list[Adcode] | None = None
    polygons: list[Annotated[list[LonLat], Field(min_length=3)]] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Zone:
        if (self.districts is None) == (self.polygons is None):
            raise ValueError("give exactly one of districts or polygons")
        for ring in self.polygons or ():
            if any(not (-180 <= lon <= 180 and -90 <= lat <= 90) for lon, lat in ring):
                raise ValueError("polygon points are [lon, lat] in degrees (WGS-84)")
        return self


class RuleSet(_Strict):
    """A whole rules file."""

    version: Literal[1] = 1
    zones: dict[Slug, Zone] = Field(default_factory=dict)
    rules: list[Rule]

    @model_validator(mode="after")
    def _references(self) -> RuleSet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice; ids must be unique")
            seen.add(rule.id)
            if isinstance(rule, GeofenceRule) and rule.zone not in self.zones:
                raise ValueError(f"rule {rule.id!r}: zone {rule.zone!r} is not under zones")
        return self

    @property
    def enabled(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]

    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}


def parse_rules(text: str, *, source: str = "<rules>") -> RuleSet:
    """Validate a rules document.

    Raises:
        RulesError: YAML syntax error, or a rule that does not validate (named by index and id).
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping with 'rules' (and optional 'zones')")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RulesError(
            f"{source}: " + "; ".join(_describe(e, data) for e in exc.errors())
        ) from None


def load_rules(path: Path | None = None) -> RuleSet:
    """Load a rules file; ``None`` loads the shipped ``default_rules.yaml``."""
    if path is None:
        text = resources.files("streams.alerts").joinpath(DEFAULT_RULES).read_text("utf-8")
        return parse_rules(text, source=DEFAULT_RULES)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_rules(text, source=str(path))


def _describe(error: Any, data: dict[str, Any]) -> str:
    loc = list(error["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        index = loc[1]
        rules = data.get("rules")
        rule = rules[index] if isinstance(rules, list) and index < len(rules) else None
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        where = f"rule {rule_id!r} (rules[{index}])" if rule_id else f"rules[{index}]"
        loc = loc[2:]
        if loc and isinstance(rule, dict) and loc[0] == rule.get("type"):
            loc = loc[1:]  # the discriminator tag pydantic inserts
    else:
        where = ".".join(str(p) for p in loc[:2])
        loc = loc[2:]
    field = ".".join(str(p) for p in loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where} field {field!r}: {message}" if field else f"{where}: {message}"
