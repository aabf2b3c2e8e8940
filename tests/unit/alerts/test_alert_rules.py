"""Rules file: the shipped defaults, and errors that name the rule and the field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from streams.alerts.expr import Condition, conditions_overlap, parse_duration
from streams.alerts.rules import (
    AbsenceRule,
    ActiveHours,
    GeofenceRule,
    OfflineRule,
    RulesError,
    ThresholdRule,
    load_rules,
    parse_rules,
)

BEIJING = timezone(timedelta(hours=8))

GOOD = """
version: 1
zones:
  core: {polygons: [[[121.0, 29.0], [122.0, 29.0], [122.0, 30.0], [121.0, 30.0]]]}
rules:
  - id: warm
    type: threshold
    kind: vending_telemetry
    field: temperature_c
    fire_when: "> 10"
    resolve_when: "<= 8"
    for: 30m
    summary_zh: "{device_id} 过热 {value:.1f}"
    summary_en: "{device_id} warm {value:.1f}"
  - id: fence
    type: geofence
    zone: core
    summary_zh: 出界
    summary_en: out
"""


def test_load_rules_defaults_match_domain_values() -> None:
    """The ten shipped rules load with the values DOMAIN.md gives."""
    rules = load_rules().by_id()
    assert set(rules) == {
        "vending-fridge-too-warm",
        "recycling-bin-almost-full",
        "recycling-smoke-alarm",
        "device-silent",
        "bike-outside-service-area",
        "vending-no-sales",
        "store-chiller-too-warm",
        "store-gate-fault",
        "transit-validator-offline",
        "transit-no-taps-in-service",
    }
    fridge = rules["vending-fridge-too-warm"]
    assert isinstance(fridge, ThresholdRule)
    assert (str(fridge.fire_when), str(fridge.resolve_when), fridge.for_) == ("> 10", "<= 8", 1800)
    bins = rules["recycling-bin-almost-full"]
    assert isinstance(bins, ThresholdRule)
    assert (str(bins.fire_when), str(bins.resolve_when)) == (">= 85", "< 60")
    assert isinstance(rules["device-silent"], OfflineRule)
    assert isinstance(rules["bike-outside-service-area"], GeofenceRule)
    sales = rules["vending-no-sales"]
    assert isinstance(sales, AbsenceRule)
    assert sales.for_ == 7200
    assert sales.active_hours is not None
    assert (str(sales.active_hours.start), sales.active_hours.tz) == ("07:00:00", "Asia/Shanghai")
    chiller = rules["store-chiller-too-warm"]
    assert isinstance(chiller, ThresholdRule)
    assert (str(chiller.path), str(chiller.fire_when), str(chiller.resolve_when)) == (
        "cabinets[].temperature_c",
        "> 8",
        "<= 6",
    )
    gate = rules["store-gate-fault"]
    assert isinstance(gate, ThresholdRule)
    assert str(gate.path) == "gates[].fault"
    validator = rules["transit-validator-offline"]
    assert isinstance(validator, OfflineRule)
    assert validator.silence_limit(300) == 600
    taps = rules["transit-no-taps-in-service"]
    assert isinstance(taps, AbsenceRule)
    assert (taps.kind, taps.for_) == ("transit_tap", 3600)


def test_parse_rules_accepts_polygon_zone() -> None:
    """A file with an inline polygon zone and a threshold rule validates."""
    rules = parse_rules(GOOD)
    assert [r.id for r in rules.rules] == ["warm", "fence"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('fire_when: "> 10"', 'fire_when: "hot"', "rule 'warm' (rules[0]) field 'fire_when'"),
        ("field: temperature_c", "field: temprature_c", "'temprature_c' is not a numeric field"),
        ('resolve_when: "<= 8"', 'resolve_when: "<= 12"', "overlap"),
        ("for: 30m", "for: soon", "field 'for'"),
        ("type: threshold", "type: treshold", "rules[0]"),
        ("{device_id} 过热", "{device} 过热", "unknown placeholders ['device']"),
        ("zone: core", "zone: nowhere", "zone 'nowhere' is not under zones"),
        ("id: fence", "id: warm", "used twice"),
        ("    summary_en: out\n", "    summary_en: out\n    colour: red\n", "field 'colour'"),
        ("kind: vending_telemetry", "kind: vending_telemetri", "unknown message kind"),
    ],
    ids=[
        "bad-condition",
        "misspelt-field",
        "overlapping-hysteresis",
        "bad-duration",
        "unknown-type",
        "unknown-placeholder",
        "unknown-zone",
        "duplicate-id",
        "unknown-key",
        "unknown-kind",
    ],
)
def test_parse_rules_error_names_rule_and_field(old: str, new: str, expected: str) -> None:
    """Each mistake is reported with where it is and what is wrong."""
    assert old in GOOD
    with pytest.raises(RulesError) as info:
        parse_rules(GOOD.replace(old, new, 1), source="my.yaml")
    assert str(info.value).startswith("my.yaml: ")
    assert expected in str(info.value)


def test_parse_rules_yaml_syntax_error() -> None:
    """Broken YAML is a RulesError, not a traceback."""
    with pytest.raises(RulesError, match="not valid YAML"):
        parse_rules("rules: [", source="x.yaml")


def test_load_rules_missing_file(tmp_path: Path) -> None:
    """A missing file names its path."""
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("30m", 1800.0), ("2h", 7200.0), ("1d", 86400.0)],
)
def test_parse_duration_units(raw: object, seconds: float) -> None:
    """Durations accept seconds or a unit suffix."""
    assert parse_duration(raw) == seconds


def test_conditions_overlap_detects_shared_values() -> None:
    """Hysteresis pairs that share a value are caught; proper ones pass."""
    assert not conditions_overlap(Condition.parse("> 10"), Condition.parse("<= 8"))
    assert not conditions_overlap(Condition.parse(">= 85"), Condition.parse("< 85"))
    assert conditions_overlap(Condition.parse(">= 85"), Condition.parse("<= 85"))
    assert not conditions_overlap(Condition.parse("== true"), Condition.parse("== false"))


def test_active_hours_advance_skips_closed_hours() -> None:
    """Two opening hours after 21:30 end at 08:30 next morning."""
    hours = ActiveHours.model_validate({"start": "07:00", "end": "22:00"})
    since = datetime(2025, 5, 1, 21, 30, tzinfo=BEIJING)
    assert hours.advance(since, 7200) == datetime(2025, 5, 2, 8, 30, tzinfo=BEIJING)
    assert hours.contains(datetime(2025, 5, 1, 21, 59, tzinfo=BEIJING))
    assert not hours.contains(datetime(2025, 5, 1, 22, 0, tzinfo=BEIJING))
