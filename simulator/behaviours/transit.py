"""Transit validators (一卡通行、一码通行): riders tapping in and out at metro gates, on buses
and at public-bike docks, with commuter peaks; validator telemetry.

Each validator's own riders arrive as a Poisson process with morning (7-9 h) and evening
(17-19 h) peaks and no service at night. A rider taps in here with one medium and, on metro and
bikes, taps out at *another* validator of the same mode (the station or dock they travel to):
the validators of a simulation share a :class:`TransitNetwork`, and the entry validator wakes
the exit one at the exit time (``Behaviour.wake``). Buses are the validator's own vehicle:
flat-fare lines take one ``single`` tap, distance-fare lines a tap in and a tap out on the same
bus. Some riders transfer (a second leg with the same medium and a transfer discount), a few
metro riders never tap out and a few tap out with no tap in: the streams count those unpaired.
A bus crossing a dead zone keeps its taps (``captured_offline``) and uploads them when the
signal is back, with their own times (``Emission.hold``).

Which mode a validator serves follows its operator (the vendor): 宁波轨道交通 metro gates, 宁波公交
buses, 宁波公共自行车 docks. Values without a source are [assumption]; DOMAIN.md has no transit
figures.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from schemas import Channel, Facility, TransitTap, TransitTelemetry
from schemas.common import Payment
from schemas.transit import Medium, TapDirection, TransitMode
from simulator.behaviours.base import (
    Behaviour,
    Emission,
    FieldBreaker,
    LandGrid,
    Profile,
    hour_of_day,
    next_arrival,
    pick,
    signal_dbm,
)
from simulator.faults import Faults
from simulator.fleet import Device

__all__ = ["MODE_BY_VENDOR", "TransitBehaviour", "TransitNetwork"]

MODE_BY_VENDOR: dict[str, TransitMode] = {"nbmetro": "metro", "nbbus": "bus", "nbpbike": "bike"}
# Riders per hour of day: commuter peaks, no service from 23 h to 5 h (Ningbo's metro and most
# bus lines run about 6:00-22:30).
COMMUTER_PROFILE = Profile(
    [
        *(0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 1.0, 3.0, 2.8, 1.2, 0.8, 0.8),  # 00-11 h
        *(0.9, 0.8, 0.7, 0.8, 1.2, 2.6, 2.4, 1.3, 0.9, 0.6, 0.4, 0.0),  # 12-23 h
    ]
)
SERVICE_HOURS = (5.5, 23.0)
# Riders who tap in at one validator per day: a metro gate, a bus, a bike dock.
RIDERS_PER_DAY: dict[TransitMode, float] = {"metro": 300.0, "bus": 220.0, "bike": 35.0}
# Ningbo Metro lines in service and their station counts (rounded).
METRO_LINES: dict[str, int] = {
    "M1": 29,
    "M2": 27,
    "M3": 25,
    "M4": 25,
    "M5": 22,
    "M7": 25,
    "M8": 24,
}
BUS_LINE_RANGE = (1, 999)
# Suburban lines (numbers from 500) charge by distance: tap in and tap out on the bus.
DISTANCE_FARE_FROM = 500
BUS_STOPS = 24
FLAT_FARE_FEN = 200
DISTANCE_FARE_FEN = (200, 500)
# Metro: 2 CNY for the first stations, 1 CNY more per 4 stations, at most 8 CNY.
METRO_BASE_FEN, METRO_STEP_FEN, METRO_STATIONS_PER_STEP, METRO_MAX_FEN = 200, 100, 4, 800
# Another line's station counts as this many stations away.
TRANSFER_STATIONS = 8
# Public bikes: the first hour free, then 1 CNY per started hour.
BIKE_FREE_S, BIKE_HOUR_FEN = 3600.0, 100
# Trip durations in simulated seconds; at least 5 minutes.
TRIP_S: dict[TransitMode, tuple[float, float]] = {
    "metro": (300.0, 2700.0),
    "bus": (300.0, 3000.0),
    "bike": (300.0, 5400.0),
}
MEDIUM_MIX: tuple[tuple[Medium, float], ...] = (
    ("qr", 0.55),
    ("card", 0.30),
    ("nfc", 0.10),
    ("ecny_wallet", 0.05),
)
PAYMENTS_OF: dict[Medium, tuple[tuple[Payment, float], ...]] = {
    "qr": (("alipay", 0.45), ("wechat", 0.40), ("unionpay", 0.10), ("ecny", 0.05)),
    "card": (("transit_card", 1.0),),
    "nfc": (("transit_card", 0.6), ("unionpay", 0.3), ("ecny", 0.1)),
    "ecny_wallet": (("ecny", 1.0),),
}
# A second leg with the same medium, 3-15 min after the first ended, 1 CNY off its fare.
TRANSFER_SHARE = 0.15
TRANSFER_GAP_S = (180.0, 900.0)
TRANSFER_DISCOUNT_FEN = 100
# Metro riders who leave without tapping out (an open emergency gate) and tap-outs without a tap
# in (an entry the gate did not record): the streams count both as unpaired.
NO_TAP_OUT_SHARE = 0.015
NO_TAP_IN_SHARE = 0.005
# Buses cross dead zones: about three an hour, 1-3 minutes each, their taps kept on board.
DEAD_ZONES_PER_H = 3.0
DEAD_ZONE_S = (60.0, 180.0)
TELEMETRY_EVERY_S = 300.0
TEMPERATURE_C = (18.0, 34.0)


@dataclass(frozen=True, slots=True)
class _Rider:
    """A medium on one leg of its trip: where the leg began, and whether it is a transfer."""

    medium: Medium
    ref: str
    payment: Payment
    entered_at: float
    entry_line: str
    entry_station: int
    transfer: bool  # this leg is a transfer: its charging tap gets the discount
    more_legs: int  # transfer legs still to come after this one


class TransitNetwork:
    """The validators of one simulation by mode: where a rider can tap out."""

    def __init__(self, validators: Sequence[TransitBehaviour]) -> None:
        self.by_mode: dict[TransitMode, list[TransitBehaviour]] = {}
        for validator in validators:
            self.by_mode.setdefault(validator.mode, []).append(validator)

    def exit_for(self, entry: TransitBehaviour) -> TransitBehaviour:
        """Where a rider who tapped in at ``entry`` taps out: the same bus, another gate or
        dock of the same mode (the same one if it is the only one)."""
        if entry.mode == "bus":
            return entry
        others = [v for v in self.by_mode[entry.mode] if v is not entry]
        return entry.rng.choice(others) if others else entry

    def transfer_to(self, rng: random.Random) -> TransitBehaviour | None:
        """A validator for a transfer leg: a bus if there is one, else any validator."""
        pool = self.by_mode.get("bus") or [v for vs in self.by_mode.values() for v in vs]
        return rng.choice(pool) if pool else None


class TransitBehaviour(Behaviour):
    facility = Facility.TRANSIT
    field_breakers: ClassVar[Mapping[str, FieldBreaker]] = {
        # A gateway mapping a QR code's wallet onto a transit card's tap.
        "transit_tap": lambda d: d.update(medium="card", payment="alipay"),
        "transit_telemetry": lambda d: d.update(queued_taps=-3),
    }

    def __init__(self, device: Device, rng: random.Random, land: LandGrid, faults: Faults) -> None:
        super().__init__(device, rng, land, faults)
        self.mode: TransitMode = MODE_BY_VENDOR.get(device.vendor, "bus")
        self.per_day = RIDERS_PER_DAY[self.mode] * rng.uniform(0.6, 1.4)
        self.station = 0
        if self.mode == "metro":
            self.line = rng.choice(sorted(METRO_LINES))
            self.station = rng.randint(1, METRO_LINES[self.line])
        elif self.mode == "bus":
            self.line = f"B{rng.randint(*BUS_LINE_RANGE)}"
        else:
            self.line = f"PB-{device.district}"
        self.distance_fare = self.mode == "bus" and int(self.line[1:]) >= DISTANCE_FARE_FROM
        self.network: TransitNetwork | None = None
        # (time, order, tap, rider): taps other validators scheduled here (exits, transfers).
        self.queue: list[tuple[float, int, TapDirection, _Rider]] = []
        self.order = 0
        self.riders = 0
        self.txn = 0
        self.dead_from = self.dead_until = 0.0
        self.queued = 0

    @classmethod
    def connect(cls, behaviours: Sequence[Behaviour]) -> None:
        validators = [b for b in behaviours if isinstance(b, TransitBehaviour)]
        network = TransitNetwork(validators)
        for validator in validators:
            validator.network = network

    def timers(self, t0: float) -> list[tuple[float, str]]:
        if self.mode == "bus":
            self._next_dead_zone(t0)
        return [
            (t0 + self.rng.uniform(1.0, TELEMETRY_EVERY_S), "telemetry"),
            (next_arrival(self.rng, t0, self.per_day, COMMUTER_PROFILE), "rider"),
        ]

    def fire(self, timer: str, t: float) -> tuple[Emission | None, float]:
        if timer == "telemetry":
            return self._telemetry(t), t + TELEMETRY_EVERY_S * self.rng.uniform(0.95, 1.05)
        if timer == "queued":
            _, _, tap, rider = heapq.heappop(self.queue)
            return self._queued(t, tap, rider), math.inf  # every queued tap has its own wake-up
        return self._new_rider(t), next_arrival(self.rng, t, self.per_day, COMMUTER_PROFILE)

    # --- riders ------------------------------------------------------------------------------

    def _new_rider(self, t: float) -> Emission:
        rng = self.rng
        self.riders += 1
        medium = pick(rng, MEDIUM_MIX)
        rider = _Rider(
            medium=medium,
            # A pseudonym per medium, stable across its taps (the issuer's token) [simulation].
            ref=f"m:{self.device.device_id}:{self.riders:06d}",
            payment=pick(rng, PAYMENTS_OF[medium]),
            entered_at=t,
            entry_line=self.line,
            entry_station=self.station,
            transfer=False,
            more_legs=1 if rng.random() < TRANSFER_SHARE else 0,
        )
        if self.mode == "metro" and rng.random() < NO_TAP_IN_SHARE:
            return self._alight(t, rider)  # its entry was never recorded
        return self._board(t, rider)

    def _board(self, t: float, rider: _Rider) -> Emission:
        """The rider's first tap of a leg here; schedules its tap out where the ride needs one."""
        if self.mode == "bus" and not self.distance_fare:
            fare = FLAT_FARE_FEN - (TRANSFER_DISCOUNT_FEN if rider.transfer else 0)
            self._onward(t, rider)
            return self._emit(t, "single", rider, fare)
        if not (self.mode == "metro" and self.rng.random() < NO_TAP_OUT_SHARE):
            assert self.network is not None
            exit_at = t + self.rng.uniform(*TRIP_S[self.mode])
            self.network.exit_for(self).schedule(exit_at, "out", rider)
        return self._emit(t, "in", rider, 0, transfer=False)

    def _alight(self, t: float, rider: _Rider) -> Emission:
        fare = self._fare(t, rider)
        if rider.transfer:
            fare = max(0, fare - TRANSFER_DISCOUNT_FEN)
        self._onward(t, rider)
        return self._emit(t, "out", rider, fare)

    def _onward(self, t: float, rider: _Rider) -> None:
        """A rider whose leg ended at ``t`` may board a transfer leg a few minutes later."""
        if rider.more_legs and self.network is not None:
            target = self.network.transfer_to(self.rng)
            if target is not None:
                onward = replace(rider, transfer=True, more_legs=rider.more_legs - 1)
                target.schedule(t + self.rng.uniform(*TRANSFER_GAP_S), "in", onward)

    def schedule(self, at: float, tap: TapDirection, rider: _Rider) -> None:
        """A tap of ``rider`` here at ``at``: a leg's exit, or a transfer leg's boarding."""
        self.order += 1
        heapq.heappush(self.queue, (at, self.order, tap, rider))
        self.wake(at, "queued")

    def _queued(self, t: float, tap: TapDirection, rider: _Rider) -> Emission:
        if tap == "out":
            return self._alight(t, rider)
        here = replace(rider, entered_at=t, entry_line=self.line, entry_station=self.station)
        return self._board(t, here)

    def _fare(self, t: float, rider: _Rider) -> int:
        """What a tap out here charges for the leg ``rider`` began."""
        if self.mode == "metro":
            stations = (
                abs(self.station - rider.entry_station)
                if rider.entry_line == self.line
                else TRANSFER_STATIONS
            )
            steps = stations // METRO_STATIONS_PER_STEP
            return min(METRO_MAX_FEN, METRO_BASE_FEN + METRO_STEP_FEN * steps)
        if self.mode == "bike":
            hours = math.ceil(max(0.0, t - rider.entered_at - BIKE_FREE_S) / 3600.0)
            return BIKE_HOUR_FEN * hours
        low, high = DISTANCE_FARE_FEN
        return self.rng.randrange(low, high + 1, 100)

    def _emit(
        self, t: float, tap: TapDirection, rider: _Rider, fare: int, *, transfer: bool | None = None
    ) -> Emission:
        self.txn += 1
        offline = self._in_dead_zone(t)
        self.queued = self.queued + 1 if offline else 0
        stop = self.station if self.mode != "bus" else 1 + int(t // 300.0) % BUS_STOPS
        body = TransitTap(
            txn_id=f"{self.device.device_id}-{self.txn:08d}",
            tap=tap,
            mode=self.mode,
            line_id=self.line,
            stop_id=f"{self.line}-{stop:02d}",
            medium=rider.medium,
            medium_ref=rider.ref,
            payment=rider.payment,
            fare_fen=fare,
            transfer_discount=rider.transfer if transfer is None else transfer,
            captured_offline=offline,
        )
        return Emission(Channel.EVENT, body, self.device.district, hold=offline)

    # --- the validator -----------------------------------------------------------------------

    def _next_dead_zone(self, t: float) -> None:
        self.dead_from = t + self.rng.expovariate(DEAD_ZONES_PER_H / 3600.0)
        self.dead_until = self.dead_from + self.rng.uniform(*DEAD_ZONE_S)

    def _in_dead_zone(self, t: float) -> bool:
        if self.mode != "bus":
            return False
        while t >= self.dead_until:
            self._next_dead_zone(self.dead_until)
        return t >= self.dead_from

    def _telemetry(self, t: float) -> Emission:
        hour = hour_of_day(t)
        offline = self._in_dead_zone(t)
        body = TransitTelemetry(
            mode=self.mode,
            in_service=SERVICE_HOURS[0] <= hour < SERVICE_HOURS[1],
            reader_fault=False,
            queued_taps=self.queued if offline else 0,
            signal_dbm=signal_dbm(self.rng),
            temperature_c=round(self.rng.uniform(*TEMPERATURE_C), 1),
        )
        return Emission(Channel.TELEMETRY, body, self.device.district, hold=offline)
