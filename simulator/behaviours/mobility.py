"""BeiDou-positioned assets: shared bikes and e-bikes, city buses, unmanned delivery vehicles.

Each asset lives around a home point inside its district and moves at plausible speeds
(DOMAIN.md §6): bikes ride 1.5 km trips at 10-15 km/h and e-bikes 2.5 km at 11-20 km/h, several
trips a day, otherwise locked; buses loop a route of stops at 20-32 km/h between 05:30 and 22:30;
delivery vehicles drive from stop to stop at 10-20 km/h during an 08:00-19:00 shift. Fixes come
every 5-15 s on the move and every 60-300 s parked. A step that would leave Ningbo's land (into
the sea) is refused and the asset turns back (``LandGrid``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from schemas import Channel, Facility, MobilityPosition, MobilityTelemetry
from schemas.mobility import AssetType, VehicleState
from simulator.behaviours.base import (
    Behaviour,
    Emission,
    FieldBreaker,
    LandGrid,
    Profile,
    hour_of_day,
    next_arrival,
    signal_dbm,
)
from simulator.faults import Faults
from simulator.fleet import KM_PER_DEG_LAT, Device

__all__ = ["ASSETS", "AssetSpec", "MobilityBehaviour"]


@dataclass(frozen=True, slots=True)
class AssetSpec:
    cruise_kmh: tuple[float, float]
    roam_km: float  # how far from home the asset goes
    drain_pct_per_km: float  # battery used per km (0: a bike's solar-charged smart lock)
    trips_per_day: float = 0.0  # shared bikes only
    trip_min_median: float = 0.0
    service_hours: tuple[float, float] = (0.0, 0.0)  # buses and delivery vehicles


# Bike trips: 1.5 km / 11.7 min, e-bike 2.5 km / 15 min (DOMAIN.md §6); trips per day, ranges
# and battery use [assumption].
ASSETS: dict[AssetType, AssetSpec] = {
    "bike": AssetSpec((10.0, 15.0), 2.5, 0.0, trips_per_day=4.0, trip_min_median=11.7),
    "ebike": AssetSpec((11.0, 20.0), 3.5, 1.6, trips_per_day=5.0, trip_min_median=15.0),
    "bus": AssetSpec((20.0, 32.0), 4.0, 0.25, service_hours=(5.5, 22.5)),
    "delivery_vehicle": AssetSpec((10.0, 20.0), 3.0, 0.5, service_hours=(8.0, 19.0)),
}
# Commuting peaks for shared bikes [assumption].
TRIP_PROFILE = Profile(
    [
        *(0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 1.0, 2.5, 2.5, 1.2, 0.8, 1.0),  # 00-11 h
        *(1.2, 1.0, 0.8, 0.9, 1.2, 2.5, 2.5, 1.5, 1.0, 0.7, 0.4, 0.2),  # 12-23 h
    ]
)
MOVING_EVERY_S = (5.0, 15.0)
PARKED_EVERY_S = (60.0, 300.0)
TELEMETRY_EVERY_S = 300.0
BUS_STOPS = 8
BUS_DWELL_S = (20.0, 40.0)
DELIVERY_DWELL_S = (120.0, 300.0)
TRIP_SIGMA = 0.5
HEADING_WANDER_DEG = 20.0
LOW_BATTERY_PCT = 15.0  # operators swap or charge below this
CHARGE_PCT_PER_H = 20.0
SATELLITES = (8, 30)  # multi-GNSS receivers see 8-30 satellites (DOMAIN.md §6)
HDOP = (0.6, 2.5)
ALTITUDE_M = (3.0, 30.0)  # Ningbo's plain lies a few metres above sea level
ARRIVED_KM = 0.005
MAX_REFUSED_STEPS = 5


class MobilityBehaviour(Behaviour):
    facility = Facility.MOBILITY
    field_breakers: ClassVar[Mapping[str, FieldBreaker]] = {
        "mobility_position": lambda d: d.update(lat=95.0),
        "mobility_telemetry": lambda d: d.update(battery_pct=130.0),
    }

    def __init__(self, device: Device, rng: random.Random, land: LandGrid, faults: Faults) -> None:
        super().__init__(device, rng, land, faults)
        assert device.asset_type is not None
        self.asset: AssetType = device.asset_type
        self.spec = ASSETS[self.asset]
        self.home = (device.lat, device.lon)
        self.lat, self.lon = self.home
        self.heading = rng.uniform(0.0, 360.0)
        self.speed = 0.0
        self.cruise = rng.uniform(*self.spec.cruise_kmh)
        self.state: VehicleState = "locked" if self.spec.trips_per_day else "parked"
        self.battery = rng.uniform(60.0, 100.0)
        self.odometer_km = round(rng.uniform(100.0, 20_000.0), 1)
        self.last_t = 0.0
        self.refused = 0
        self.next_trip = math.inf
        self.trip_end = 0.0
        self.dwell_until = 0.0
        self.stops = self._route() if self.asset == "bus" else [self.home]
        self.stop = 0
        self.target: tuple[float, float] | None = None

    def timers(self, t0: float) -> list[tuple[float, str]]:
        self.last_t = t0
        if self.spec.trips_per_day:
            self.next_trip = next_arrival(self.rng, t0, self.spec.trips_per_day, TRIP_PROFILE)
        return [
            (t0 + self.rng.uniform(*MOVING_EVERY_S), "position"),
            (t0 + self.rng.uniform(1.0, TELEMETRY_EVERY_S), "telemetry"),
        ]

    def fire(self, timer: str, t: float) -> tuple[Emission | None, float]:
        self._advance(t)
        if timer == "telemetry":
            body = MobilityTelemetry(
                battery_pct=round(self.battery, 1),
                state=self.state,
                odometer_km=round(self.odometer_km, 1),
                signal_dbm=signal_dbm(self.rng),
            )
            emission = Emission(Channel.TELEMETRY, body, self.device.district)
            return emission, t + TELEMETRY_EVERY_S * self.rng.uniform(0.95, 1.05)
        return self._position(), t + self._interval(t)

    # --- reporting -------------------------------------------------------------------------

    def _position(self) -> Emission:
        moving = self.speed > 0
        body = MobilityPosition(
            lat=self.lat,
            lon=self.lon,
            speed_kmh=round(self.speed, 1),
            heading_deg=round(self.heading, 1) % 360.0 if moving else None,
            altitude_m=round(self.rng.uniform(*ALTITUDE_M), 1),
            satellites=self.rng.randint(*SATELLITES),
            hdop=round(self.rng.uniform(*HDOP), 1),
            fix="gps",
            battery_pct=round(self.battery, 1),
            state=self.state,
            asset_type=self.asset,
        )
        # Collectors attribute a fix to the district it lies in (point in polygon), not to the
        # asset's home district: count it the same way, with the same index, so truth is exact.
        where = self.land.locator.locate(self.lat, self.lon)
        return Emission(Channel.POSITION, body, where.adcode if where is not None else None)

    def _interval(self, t: float) -> float:
        if self.state in ("in_use", "in_service"):
            return self.rng.uniform(*MOVING_EVERY_S)
        wait = self.rng.uniform(*PARKED_EVERY_S)
        # A parked bike reports at once when its next trip starts, not minutes later.
        return max(1.0, min(wait, self.next_trip - t))

    # --- motion ----------------------------------------------------------------------------

    def _advance(self, t: float) -> None:
        dt = max(0.0, t - self.last_t)
        self.last_t = t
        if self.spec.trips_per_day:
            self._ride(t, dt)
        elif self.asset == "bus":
            self._drive_route(t, dt)
        else:
            self._deliver(t, dt)

    def _ride(self, t: float, dt: float) -> None:
        if self.state == "in_use":
            self.heading = (self.heading + self.rng.gauss(0.0, HEADING_WANDER_DEG)) % 360.0
            if _km(self.lat, self.lon, *self.home) > self.spec.roam_km:
                self.heading = _bearing(self.lat, self.lon, *self.home)
            self._step(self.cruise * dt / 3600.0)
            if t >= self.trip_end:
                self.state, self.speed = "locked", 0.0
                if self.battery < LOW_BATTERY_PCT and self.spec.drain_pct_per_km:
                    self.battery = self.rng.uniform(90.0, 100.0)  # battery swap at the kerb
                self.next_trip = next_arrival(self.rng, t, self.spec.trips_per_day, TRIP_PROFILE)
        elif t >= self.next_trip:
            minutes = self.rng.lognormvariate(math.log(self.spec.trip_min_median), TRIP_SIGMA)
            self.state, self.speed = "in_use", self.cruise
            self.trip_end = t + minutes * 60.0
            self.heading = self.rng.uniform(0.0, 360.0)

    def _in_service(self, t: float) -> bool:
        start, end = self.spec.service_hours
        return start <= hour_of_day(t) < end

    def _drive_route(self, t: float, dt: float) -> None:
        if t < self.dwell_until:
            return
        if not self._in_service(t) and self._at(self.stops[0]):
            self.state, self.speed = "parked", 0.0
            self._charge(dt)
            return
        self.state, self.speed = "in_service", self.cruise
        if self._toward(self.stops[self.stop], self.cruise * dt / 3600.0):
            self.speed = 0.0
            self.dwell_until = t + self.rng.uniform(*BUS_DWELL_S)
            self.stop = (self.stop + 1) % len(self.stops)

    def _deliver(self, t: float, dt: float) -> None:
        if t < self.dwell_until:
            return
        if not self._in_service(t):
            if self._at(self.home):
                self.state, self.speed = ("charging" if self.battery < 99.5 else "parked"), 0.0
                self._charge(dt)
                return
            self.target = self.home
        elif self.target is None or (self.target == self.home and self._at(self.home)):
            self.target = self._inside_point(self.spec.roam_km)
        self.state, self.speed = "in_service", self.cruise
        if self._toward(self.target, self.cruise * dt / 3600.0):
            self.speed = 0.0
            self.dwell_until = t + self.rng.uniform(*DELIVERY_DWELL_S)
            if self.target != self.home:
                self.target = None  # delivered: pick the next stop after the dwell

    def _charge(self, dt: float) -> None:
        self.battery = min(100.0, self.battery + CHARGE_PCT_PER_H * dt / 3600.0)

    def _at(self, point: tuple[float, float]) -> bool:
        return _km(self.lat, self.lon, *point) < ARRIVED_KM

    def _toward(self, point: tuple[float, float], km: float) -> bool:
        """Drive up to ``km`` toward ``point``; True when arrived."""
        remaining = _km(self.lat, self.lon, *point)
        self.heading = _bearing(self.lat, self.lon, *point)
        if remaining <= km:
            return self._move_to(*point, km=remaining)
        self._step(km)
        return False

    def _step(self, km: float) -> bool:
        rad = math.radians(self.heading)
        lat = self.lat + km * math.cos(rad) / KM_PER_DEG_LAT
        lon = self.lon + km * math.sin(rad) / (KM_PER_DEG_LAT * math.cos(math.radians(self.lat)))
        return self._move_to(lat, lon, km=km)

    def _move_to(self, lat: float, lon: float, *, km: float) -> bool:
        """Move if the point is on land; otherwise turn back (home after a few tries)."""
        lat, lon = round(lat, 6), round(lon, 6)
        if not self.land.on_land(lat, lon):
            self.refused += 1
            self.heading = (self.heading + 180.0) % 360.0
            if self.refused > MAX_REFUSED_STEPS:
                self.lat, self.lon = self.home
                self.refused = 0
                self.target = None
            return False
        self.refused = 0
        self.lat, self.lon = lat, lon
        self.odometer_km += km
        self.battery = max(0.0, self.battery - km * self.spec.drain_pct_per_km)
        return True

    def _inside_point(self, radius_km: float) -> tuple[float, float]:
        for _ in range(20):
            r = radius_km * math.sqrt(self.rng.random())
            a = self.rng.uniform(0.0, 2 * math.pi)
            lat = round(self.home[0] + r * math.cos(a) / KM_PER_DEG_LAT, 6)
            lon = self.home[1] + r * math.sin(a) / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
            lon = round(lon, 6)
            if self.land.on_land(lat, lon):
                return lat, lon
        return self.home

    def _route(self) -> list[tuple[float, float]]:
        """A loop of stops around the depot (stop 0), each on land."""
        return [self.home] + [self._inside_point(self.spec.roam_km) for _ in range(BUS_STOPS - 1)]


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: within a few km, as exact as the haversine and cheaper."""
    dy = (lat2 - lat1) * KM_PER_DEG_LAT
    dx = (lon2 - lon1) * KM_PER_DEG_LAT * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


def _bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = lat2 - lat1
    dx = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.degrees(math.atan2(dx, dy)) % 360.0
