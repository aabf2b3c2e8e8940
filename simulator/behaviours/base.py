"""What every facility behaviour implements, and the helpers they share (daily profiles, arrivals).

A behaviour is one device's state machine over *simulated* seconds since the run's start. The
engine asks it for its timers, fires them in time order and wraps what they emit (a validated
schemas body) into wire messages; a behaviour never sees seq numbers, clocks or MQTT.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from schemas import Body, Channel, Facility
from simulator.faults import Faults
from simulator.fleet import Device, Locator

__all__ = [
    "SIM_START_HOUR",
    "Behaviour",
    "Emission",
    "FieldBreaker",
    "LandGrid",
    "Profile",
    "hour_of_day",
    "next_arrival",
    "pick",
    "signal_dbm",
]

# Simulated time 0 is 07:00 Beijing time, so the first minutes of a run already show the morning
# rise and the 11-13 h peak follows soon after.
SIM_START_HOUR = 7.0
SECONDS_PER_DAY = 86_400.0
# Cellular signal of street furniture and vehicles: around -85 dBm, usable down to -120 dBm.
SIGNAL_DBM_MEAN, SIGNAL_DBM_SD, SIGNAL_DBM_RANGE = -85.0, 8.0, (-120.0, -50.0)

_T = TypeVar("_T")
FieldBreaker = Callable[[dict[str, Any]], None]
"""Puts one field of a valid wire message (a dict) out of contract, for ``invalid_field``."""


@dataclass(frozen=True, slots=True)
class Emission:
    """A message a behaviour wants sent: its channel, its validated body, its district.

    ``district`` is where collectors will attribute the message: the registry district for fixed
    devices and for a mobile asset's telemetry and status (its home district), and for a position
    the district the fix lies in (the same point-in-polygon look-up the collectors make).

    ``hold``: the device's network is down (a bus in a dead zone): the engine keeps the message
    with the time it was captured as its ``ts``, and publishes it when the device is back (with
    its next message that is not held, or :data:`simulator.engine.HOLD_MAX_WALL_S` later).
    """

    channel: Channel
    body: Body
    district: str | None
    hold: bool = False


class LandGrid:
    """Is a point on land in Ningbo? Answered per cell of ~200 m from the district index, cached.

    Only a plausibility guard for moving assets (no bike rides into Hangzhou Bay): a cell counts
    as land when its centre lies in a district, so a fix may stray up to half a cell offshore.
    """

    CELL_DEG = 0.002  # ~220 m north-south, ~190 m east-west at 30° N

    def __init__(self, locator: Locator) -> None:
        self.locator = locator
        self._cells: dict[tuple[int, int], bool] = {}

    def on_land(self, lat: float, lon: float) -> bool:
        key = (round(lat / self.CELL_DEG), round(lon / self.CELL_DEG))
        known = self._cells.get(key)
        if known is None:
            centre = self.locator.locate(key[0] * self.CELL_DEG, key[1] * self.CELL_DEG)
            known = self._cells[key] = centre is not None
        return known


class Profile:
    """Relative activity per hour of day (local time), normalised to a mean of 1."""

    def __init__(self, hourly: Sequence[float]) -> None:
        if len(hourly) != 24 or min(hourly) < 0:
            raise ValueError("a profile has 24 non-negative hourly weights")
        mean = sum(hourly) / 24
        self.weights = tuple(w / mean for w in hourly)
        self.peak = max(self.weights)

    def at(self, t: float) -> float:
        return self.weights[int(hour_of_day(t)) % 24]


def hour_of_day(t: float) -> float:
    """Local hour (0-24) at simulated second ``t``."""
    return (SIM_START_HOUR + t / 3600.0) % 24.0


def next_arrival(rng: random.Random, t: float, per_day: float, profile: Profile) -> float:
    """Next event of a Poisson process averaging ``per_day`` with ``profile``'s daily shape.

    Thinning (Lewis & Shedler): draw at the peak rate, keep a draw with probability
    rate(t) / peak rate.
    """
    if per_day <= 0:
        return math.inf
    peak_rate = per_day / SECONDS_PER_DAY * profile.peak
    while True:
        t += rng.expovariate(peak_rate)
        if rng.random() * profile.peak < profile.at(t):
            return t


class Behaviour(ABC):
    """One device of one facility. Subclasses set ``facility`` and implement the two methods.

    Devices of a facility that interact (a rider taps in at one validator and out at another)
    share state through :meth:`connect`, which the engine calls once with all of them; one
    device makes another act at a given time with that one's :attr:`wake` (simulated seconds,
    timer name), which the engine sets.
    """

    facility: ClassVar[Facility]
    #: Per message kind of the facility, how ``simulator.bad`` breaks one of its fields (an
    #: out-of-range or ill-typed value the collectors refuse as ``invalid_field``).
    field_breakers: ClassVar[Mapping[str, FieldBreaker]] = {}

    def __init__(self, device: Device, rng: random.Random, land: LandGrid, faults: Faults) -> None:
        self.device = device
        self.rng = rng
        self.land = land
        self.faults = faults
        self.wake: Callable[[float, str], None] = _no_wake

    @classmethod
    def connect(cls, behaviours: Sequence[Behaviour]) -> None:
        """Link the facility's devices of one simulation (in fleet order); default: nothing."""
        del behaviours  # independent devices: nothing to share

    @abstractmethod
    def timers(self, t0: float) -> list[tuple[float, str]]:
        """First firing time (>= ``t0``) of each named timer."""

    @abstractmethod
    def fire(self, timer: str, t: float) -> tuple[Emission | None, float]:
        """Run ``timer`` at ``t``: what to send (or None) and when it fires next (inf: never)."""


def _no_wake(t: float, timer: str) -> None:
    raise RuntimeError(f"no engine runs this behaviour: cannot wake {timer!r} at {t}")


def pick(rng: random.Random, weighted: Sequence[tuple[_T, float]]) -> _T:
    """One value of ``(value, weight)`` pairs, drawn by weight."""
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def signal_dbm(rng: random.Random) -> int:
    """A plausible cellular signal reading."""
    low, high = SIGNAL_DBM_RANGE
    return int(min(high, max(low, rng.gauss(SIGNAL_DBM_MEAN, SIGNAL_DBM_SD))))
