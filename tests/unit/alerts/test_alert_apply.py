"""The engine's in-place steps (the worker's path) agree with the copying ones; the relay's
bounded memory of idempotency keys."""

from __future__ import annotations

from alert_support import at, make_envelope

from streams.alerts.engine import AlertEngine
from streams.alerts.relay import RecentKeys
from streams.alerts.rules import load_rules
from streams.alerts.state import DeviceAlerts


def test_engine_apply_matches_evaluate_and_tick() -> None:
    """apply/apply_tick give the changes and final state evaluate/tick give."""
    engine = AlertEngine(load_rules())
    envs = [
        make_envelope("vending_telemetry", at(m), m, temperature_c=12.0 if 10 <= m < 60 else 6.0)
        for m in range(0, 95, 5)
    ]
    copied: DeviceAlerts | None = None
    in_place = DeviceAlerts(device_id=envs[0].device_id)
    want, got = [], []
    for env in envs:
        copied, changes, _ = engine.evaluate(copied, env, env.received_at)
        want += changes
        got += engine.apply(in_place, env, env.received_at)
    assert copied is not None
    copied, changes, changed = engine.tick(copied, at(300))
    tick_changes, tick_changed = engine.apply_tick(in_place, at(300))
    assert got + tick_changes == want + changes
    assert [a.status for a in want] == ["firing", "resolved"]
    assert (tick_changed, changed) == (True, True)
    assert in_place == copied
    assert engine.apply_tick(in_place, at(301)) == ([], False)


def test_recent_keys_forgets_oldest_first() -> None:
    """A key is new once; beyond the bound the oldest key is forgotten."""
    keys = RecentKeys(size=2)
    assert [keys.add(k) for k in ("a", "a", "b", "c", "a")] == [True, False, True, True, True]
