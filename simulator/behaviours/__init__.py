"""Facility behaviours, one module each; adding a facility is a module and a line in BEHAVIOURS."""

from __future__ import annotations

from schemas import Facility
from simulator.behaviours.base import Behaviour, Emission
from simulator.behaviours.mobility import MobilityBehaviour
from simulator.behaviours.recycling import RecyclingBehaviour
from simulator.behaviours.store import StoreBehaviour
from simulator.behaviours.transit import TransitBehaviour
from simulator.behaviours.vending import VendingBehaviour

__all__ = ["BEHAVIOURS", "Behaviour", "Emission"]

BEHAVIOURS: dict[Facility, type[Behaviour]] = {
    b.facility: b
    for b in (
        VendingBehaviour,
        RecyclingBehaviour,
        MobilityBehaviour,
        StoreBehaviour,
        TransitBehaviour,
    )
}
