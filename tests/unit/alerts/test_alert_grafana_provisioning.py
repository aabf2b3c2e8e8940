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
    """Fridge, bin, smoke and offline rules, each with a unique uid."""
    uids = [r["uid"] for r in _rules()]
    assert sorted(uids) == sorted(
        {
            "cityiot-fridge-too-warm",
            "cityiot-bin-almost-full",
            "cityiot-smoke-alarm",
            "cityiot-devices-offline",
        }
    )


@pytest.mark.parametrize(
    ("uid", "measurement", "field"),
    [
        ("cityiot-fridge-too-warm", "vending_telemetry", "temperature_c"),
        ("cityiot-bin-almost-full", "recycling_telemetry", "fill_max_pct"),
        ("cityiot-smoke-alarm", "recycling_telemetry", "smoke_alarm"),
        ("cityiot-devices-offline", "device_health", "online"),
    ],
    ids=["fridge", "bin", "smoke", "offline"],
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
