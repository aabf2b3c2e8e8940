"""Faults: a warming fridge, a bin nobody empties, a device that drops offline and comes back."""

from __future__ import annotations

import random
from typing import Any

from simulator_testkit import NOW

from schemas import DeviceStatus, DistrictIndex, RecyclingTelemetry, VendingTelemetry
from simulator import Fleet, Simulation
from simulator.behaviours.base import LandGrid
from simulator.behaviours.recycling import RecyclingBehaviour
from simulator.behaviours.vending import ALARM_ABOVE_C, VendingBehaviour
from simulator.faults import BinOverflow, Faults, FridgeWarming, plan_faults

HOUR = 3600.0


def _telemetry_over(behaviour: VendingBehaviour, hours: float) -> list[tuple[float, Any]]:
    out = []
    t = 0.0
    while t < hours * HOUR:
        emission, _ = behaviour.fire("telemetry", t)
        assert emission is not None
        out.append((t, emission.body))
        t += 300.0
    return out


def test_fridge_warming_raises_temperature_then_ejh(fleet: Fleet, locator: DistrictIndex) -> None:
    """Temperature climbs from the set point; EJJ appears, then EJH after 30 min above 10 °C."""
    device = fleet.by_facility(fleet.devices[0].facility.VENDING)[0]
    fault = FridgeWarming(start=HOUR, c_per_h=3.0)
    behaviour = VendingBehaviour(device, random.Random(1), LandGrid(locator), Faults(fridge=fault))
    readings = _telemetry_over(behaviour, 6)
    before = [b for t, b in readings if t < HOUR]
    assert all(isinstance(b, VendingTelemetry) and not b.error_codes for b in before)
    assert all(b.temperature_c < 9.5 for b in before)
    last = readings[-1][1]
    assert last.temperature_c > 20
    assert {"EJJ", "EJH"} <= set(last.error_codes)
    crossed = fault.above_since(ALARM_ABOVE_C, behaviour.set_point)
    for t, b in readings:
        if "EJH" in b.error_codes:
            assert t - crossed > 1800


def test_bin_overflow_keeps_bins_full(fleet: Fleet, locator: DistrictIndex) -> None:
    """A skipped collection lets bins fill to 100 % and stay there; others are emptied at 07:00."""
    device = fleet.by_facility(fleet.devices[0].facility.RECYCLING)[0]

    def peak_after(faults: Faults, days: float) -> float:
        behaviour = RecyclingBehaviour(device, random.Random(2), LandGrid(locator), faults)
        behaviour.timers(0.0)
        t, top = 0.0, 0.0
        while t < days * 24 * HOUR:
            behaviour.fire("dropoff", t)
            t += 60.0
        emission, _ = behaviour.fire("telemetry", t)
        assert emission is not None
        assert isinstance(emission.body, RecyclingTelemetry)
        top = max(b.filling_level_pct for b in emission.body.bins)
        return top

    # A drop-off every minute is ~100x normal: only emptying keeps the bins below full.
    assert peak_after(Faults(overflow=BinOverflow(start=0.0)), 2) >= 99.0
    healthy = RecyclingBehaviour(device, random.Random(2), LandGrid(locator), Faults())
    healthy.timers(0.0)
    healthy.fill_g = dict.fromkeys(healthy.fill_g, 50_000)
    healthy.fire("telemetry", 24.5 * HOUR)  # past 07:00 the next day (t = 0 is 07:00)
    assert all(v == 0 for v in healthy.fill_g.values())


def test_outage_sends_offline_then_silence_then_online(locator: DistrictIndex) -> None:
    """A device with an outage says offline (connection_lost), sends nothing, then reconnects."""
    from simulator import build_fleet

    fleet = build_fleet(40, seed=11, locator=locator)
    outages = {
        d.device_id: f.outage
        for d in fleet.devices
        if (f := plan_faults(d, random.Random(f"11:faults:{d.device_id}"))).outage is not None
    }
    assert outages
    sim = Simulation(fleet, seed=11, locator=locator, clock=lambda: NOW)
    last_end = max(o.end for o in outages.values())
    timeline: dict[str, list[str]] = {d: [] for d in outages}
    for msg in sim.messages():
        if msg.device_id in timeline:
            body = msg.body
            label = f"{body.state}:{body.reason}" if isinstance(body, DeviceStatus) else "data"
            timeline[msg.device_id].append(label)
        if sim.sim_time > last_end + 600:
            break
    for device_id, events in timeline.items():
        start = events.index("offline:connection_lost")
        assert events[start + 1] == "online:reconnect", device_id
        assert events[0] == "online:boot"
        assert "data" in events[start + 2 :]
