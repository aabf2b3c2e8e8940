"""Faults a device can suffer during a run: a fridge warming up, a bin left to fill, a store gate
jammed, an outage, a reboot.

Planned once per device from its own random stream, so the same seed breaks the same devices at
the same simulated moments. Behaviours consult the plan (a warming fridge reports its rising
temperature and EVA-DTS codes; an unemptied bin climbs to 100 %); the engine handles outages
and reboots, which are the same for every facility.

Last wills: all simulated devices share one MQTT connection, so the broker cannot publish a
per-device will for them. A device that drops offline therefore gets, on the broker's behalf, the
``status`` offline message its will would carry (reason ``connection_lost``), then silence, then
``online`` (reason ``reconnect``). Real wills are shown separately by :mod:`simulator.publisher`
with a few devices on connections of their own.

Reboots: a rebooting device starts its seq again from 0 and sends a ``status`` online with reason
``boot`` first, as docs/vendors.md ("Reboots") asks of devices; the platform must store every
message of the new boot and still drop redeliveries (streams/dedup.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from schemas import Facility
from simulator.fleet import Device

__all__ = [
    "REBOOT_SHARE",
    "BinOverflow",
    "Faults",
    "FridgeWarming",
    "GateFault",
    "Outage",
    "Reboot",
    "plan_faults",
]

# Shares of devices that suffer each fault in a run [assumption: chosen so that a fleet of a few
# hundred shows every fault on the dashboards within the first simulated hours].
FRIDGE_WARMING_SHARE = 0.05
BIN_OVERFLOW_SHARE = 0.10
OUTAGE_SHARE = 0.05
# When a fault starts: between 15 min and 4 h of simulated time, so short runs see them.
FAULT_START_S = (900.0, 4 * 3600.0)
# A failing compressor lets a chilled compartment warm 1.5-4 °C per hour up to the ambient
# temperature (set point 4-8 °C, alarm above 10 °C for 30 min: DOMAIN.md §6).
WARMING_C_PER_H = (1.5, 4.0)
WARMING_CEILING_C = 28.0
# Cellular dead zones and power cuts: 20-90 minutes offline [assumption].
OUTAGE_S = (20 * 60.0, 90 * 60.0)
# Watchdog resets, power blips and firmware updates [assumption: 5 % of devices once a run, so a
# fleet of a hundred shows a few]. Between 5 and 20 simulated minutes: a 12-second test run at
# 300 msg/s covers ~25 of them, so even short runs see every planned reboot.
REBOOT_SHARE = 0.05
REBOOT_AT_S = (5 * 60.0, 20 * 60.0)
# A store's entry/exit gate jams or loses its sensor until a technician comes: 30-120 minutes
# [assumption]. One store in ten, so a small fleet shows one on the store dashboard.
GATE_FAULT_SHARE = 0.10
GATE_FAULT_S = (30 * 60.0, 120 * 60.0)


@dataclass(frozen=True, slots=True)
class FridgeWarming:
    """The cooling unit fails at ``start``; the compartment warms linearly until ambient."""

    start: float
    c_per_h: float

    def temperature(self, t: float, set_point: float) -> float:
        if t <= self.start:
            return set_point
        return min(WARMING_CEILING_C, set_point + (t - self.start) / 3600.0 * self.c_per_h)

    def above_since(self, threshold: float, set_point: float) -> float:
        """Simulated second when the temperature crossed ``threshold``."""
        return self.start + max(0.0, threshold - set_point) / self.c_per_h * 3600.0


@dataclass(frozen=True, slots=True)
class BinOverflow:
    """From ``start`` on, the collection truck skips the station: bins fill and stay full."""

    start: float


@dataclass(frozen=True, slots=True)
class Outage:
    """The device is offline (its last will fires) from ``start`` until ``end``."""

    start: float
    end: float

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class GateFault:
    """One of the store's gates (``gate_index`` modulo their number) is faulty in [start, end)."""

    start: float
    end: float
    gate_index: int

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class Reboot:
    """The device restarts at ``at`` (a reboot falling in an outage waits for its end)."""

    at: float


@dataclass(frozen=True, slots=True)
class Faults:
    """A device's fault plan; None where it stays healthy."""

    fridge: FridgeWarming | None = None
    overflow: BinOverflow | None = None
    outage: Outage | None = None
    reboot: Reboot | None = None
    gate: GateFault | None = None


def plan_faults(
    device: Device, rng: random.Random, *, reboot_share: float = REBOOT_SHARE
) -> Faults:
    """Decide ``device``'s faults. Draws a fixed number of values, whatever the outcome.

    ``reboot_share``: the share of devices that reboot once (0 for none, 1 for all).
    """
    draws = [rng.random() for _ in range(3)]
    starts = [rng.uniform(*FAULT_START_S) for _ in range(3)]
    rate = rng.uniform(*WARMING_C_PER_H)
    duration = rng.uniform(*OUTAGE_S)
    # Drawn after the others: a seed plans the same fridges, bins and outages as before reboots.
    reboot_draw = rng.random()
    reboot_at = rng.uniform(*REBOOT_AT_S)
    # Likewise after the reboots: store gates came later still.
    gate_draw = rng.random()
    gate_start = rng.uniform(*FAULT_START_S)
    gate_for = rng.uniform(*GATE_FAULT_S)
    gate_index = rng.randrange(16)
    fridge = overflow = gate = None
    chilled = device.facility in (Facility.VENDING, Facility.STORE)
    if chilled and draws[0] < FRIDGE_WARMING_SHARE:
        fridge = FridgeWarming(start=starts[0], c_per_h=rate)
    if device.facility is Facility.RECYCLING and draws[1] < BIN_OVERFLOW_SHARE:
        overflow = BinOverflow(start=starts[1])
    outage = None
    if draws[2] < OUTAGE_SHARE:
        outage = Outage(start=starts[2], end=starts[2] + duration)
    reboot = Reboot(at=reboot_at) if reboot_draw < reboot_share else None
    if device.facility is Facility.STORE and gate_draw < GATE_FAULT_SHARE:
        gate = GateFault(start=gate_start, end=gate_start + gate_for, gate_index=gate_index)
    return Faults(fridge=fridge, overflow=overflow, outage=outage, reboot=reboot, gate=gate)
