"""Grafana alerting provisioning files: they parse and have the structure Grafana expects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "alerting"


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    assert data["apiVersion"] == 1
    return data


def test_contact_point_webhook_signs_with_hmac() -> None:
    """One webhook receiver, URL and secret from the environment, HMAC headers set."""
    (point,) = _load("contact-points.yaml")["contactPoints"]
    (receiver,) = point["receivers"]
    assert receiver["type"] == "webhook"
    settings = receiver["settings"]
    assert settings["url"] == "${CITYIOT_GRAFANA_WEBHOOK_URL}"
    assert settings["hmacConfig"]["secret"] == "${CITYIOT_GRAFANA_WEBHOOK_SECRET}"
    assert settings["hmacConfig"]["header"] == "X-Grafana-Alerting-Signature"


def test_policies_route_to_the_contact_point() -> None:
    """Every route in the policy tree names a provisioned contact point."""
    names = {p["name"] for p in _load("contact-points.yaml")["contactPoints"]}
    (policy,) = _load("policies.yaml")["policies"]
    receivers = {policy["receiver"], *(r["receiver"] for r in policy.get("routes", []))}
    assert receivers <= names


def _rules() -> list[dict[str, Any]]:
    return [r for g in _load("rules.yaml")["groups"] for r in g["rules"]]


def test_rules_cover_key_conditions() -> None:
    """Fridge, bin, smoke, offline, store chiller, transit line and silent vendor rules, each
    with a unique uid."""
    uids = [r["uid"] for r in _rules()]
    assert sorted(uids) == sorted(
        {
            "cityiot-fridge-too-warm",
            "cityiot-bin-almost-full",
            "cityiot-smoke-alarm",
            "cityiot-devices-offline",
            "cityiot-store-chiller-too-warm",
            "cityiot-transit-line-no-taps",
            "cityiot-vendor-silent",
        }
    )


@pytest.mark.parametrize(
    ("uid", "measurement", "field"),
    [
        ("cityiot-fridge-too-warm", "vending_telemetry", "temperature_c"),
        ("cityiot-bin-almost-full", "recycling_telemetry", "fill_max_pct"),
        ("cityiot-smoke-alarm", "recycling_telemetry", "smoke_alarm"),
        ("cityiot-devices-offline", "device_health", "online"),
        ("cityiot-store-chiller-too-warm", "store_telemetry", "chilled_max_c"),
        ("cityiot-transit-line-no-taps", "transit_tap_1m", "count"),
        ("cityiot-vendor-silent", "device_health", "age_s"),
    ],
    ids=["fridge", "bin", "smoke", "offline", "chiller", "line", "vendor-silent"],
)
def test_rule_query_and_condition_chain(uid: str, measurement: str, field: str) -> None:
    """InfluxQL on the right measurement and field; the condition refId exists; expressions
    only reference queries defined before them."""
    rule = next(r for r in _rules() if r["uid"] == uid)
    by_ref = {d["refId"]: d for d in rule["data"]}
    assert rule["condition"] in by_ref
    query = by_ref["A"]
    assert query["datasourceUid"] == "cityiot-influxdb"
    text = query["model"]["query"]
    assert f'FROM "{measurement}"' in text
    assert f'"{field}"' in text
    assert "$timeFilter" in text
    assert query["model"]["rawQuery"] is True
    seen: set[str] = set()
    for item in rule["data"]:
        if item["datasourceUid"] == "__expr__":
            assert item["model"]["expression"] in seen
        seen.add(item["refId"])


def test_rule_labels_hold_no_env_placeholders() -> None:
    """Grafana interpolates env vars in labels: a single $ there would be swallowed."""
    for rule in _rules():
        for value in rule["labels"].values():
            assert not re.search(r"(?<!\$)\$(?!\$)", str(value)), (rule["uid"], value)


def test_service_hours_rules_are_muted_at_night() -> None:
    """A rule labelled service_hours goes through a route muted by a provisioned mute timing
    covering the night in Beijing time."""
    data = _load("policies.yaml")
    (policy,) = data["policies"]
    (route,) = [
        r for r in policy["routes"] if ["service_hours", "=", "true"] in r["object_matchers"]
    ]
    timings = {t["name"]: t for t in data["muteTimes"]}
    (name,) = route["mute_time_intervals"]
    (interval,) = timings[name]["time_intervals"]
    assert interval["location"] == "Asia/Shanghai"
    assert {"start_time": "00:00", "end_time": "06:30"} in interval["times"]
    muted = [r for r in _rules() if r["labels"].get("service_hours") == "true"]
    assert [r["uid"] for r in muted] == ["cityiot-transit-line-no-taps"]


def test_vendor_silent_rule_is_per_vendor_between_15_min_and_a_day() -> None:
    """The silent-vendor rule groups by vendor only and fires on a freshest message older than
    15 minutes but younger than a day."""
    rule = next(r for r in _rules() if r["uid"] == "cityiot-vendor-silent")
    by_ref = {d["refId"]: d for d in rule["data"]}
    assert by_ref["A"]["model"]["query"].endswith('GROUP BY "vendor"')
    (condition,) = by_ref[rule["condition"]]["model"]["conditions"]
    assert condition["evaluator"] == {"type": "within_range", "params": [900, 86400]}
    assert "{{ $labels.vendor }}" in rule["annotations"]["summary"]
