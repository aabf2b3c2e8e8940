"""Smart recycling stations (智能回收站, e.g. Ningbo's 搭把手): weighed drop-offs and bin levels.

Ranges from DOMAIN.md §6: about 20 kg per station per day, drop-offs log-normal with a median of
0.5 kg between 0.01 and 10 kg, payouts of 0.6-0.8 CNY/kg for paper, plastic, metal and textile
(glass 0), bins emptied once or twice a day. Weights are drawn in whole grams, so the truth file's
totals are exact integers and ``weight_kg`` has at most three decimals on the wire.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from schemas import BinLevel, Channel, Facility, RecyclingDropoff, RecyclingTelemetry
from schemas.recycling import CompactorState, WasteCategory
from simulator.behaviours.base import (
    SECONDS_PER_DAY,
    SIM_START_HOUR,
    Behaviour,
    Emission,
    FieldBreaker,
    LandGrid,
    Profile,
    hour_of_day,
    next_arrival,
    pick,
)
from simulator.faults import Faults
from simulator.fleet import Device

__all__ = ["CATEGORY_MIX", "RecyclingBehaviour"]

# Residents drop off before work and after dinner [assumption].
DROPOFF_PROFILE = Profile(
    [
        *(0.05, 0.02, 0.02, 0.02, 0.05, 0.3, 1.2, 2.2, 2.0, 1.0, 0.8, 0.8),  # 00-11 h
        *(0.9, 0.8, 0.7, 0.7, 0.9, 1.4, 2.2, 2.5, 2.0, 1.2, 0.5, 0.2),  # 12-23 h
    ]
)
# kg per station per day: log-normal around 20 kg/day (DOMAIN.md §6) [spread: assumption].
KG_PER_DAY_MEDIAN = 20.0
KG_PER_DAY_SIGMA = 0.4


@dataclass(frozen=True, slots=True)
class CategorySpec:
    share: float  # of drop-offs [assumption: kitchen waste is the most frequent bag]
    median_kg: float  # log-normal median of one drop-off
    capacity_kg: float  # bin capacity: a 240 L kitchen bin holds ~120 kg [assumption]
    subtypes: tuple[tuple[str, float], ...]


CATEGORY_MIX: dict[WasteCategory, CategorySpec] = {
    "kitchen": CategorySpec(0.45, 0.8, 120.0, ()),
    "recyclable": CategorySpec(
        0.35,
        0.5,
        80.0,
        (("paper", 0.4), ("plastic", 0.3), ("metal", 0.1), ("textile", 0.1), ("glass", 0.1)),
    ),
    "other": CategorySpec(0.17, 0.6, 100.0, ()),
    "hazardous": CategorySpec(
        0.03, 0.1, 20.0, (("battery", 0.5), ("lamp", 0.2), ("medicine", 0.2), ("paint", 0.1))
    ),
}
WEIGHT_SIGMA = 0.9
WEIGHT_RANGE_G = (10, 10_000)
# Payout in fen per kg (小黄狗 prices, DOMAIN.md §6); kitchen, other and hazardous earn points only.
PAYOUT_FEN_PER_KG = {"paper": 80, "plastic": 70, "metal": 60, "textile": 60, "glass": 0}
GRAMS_PER_POINT = 100
# Kitchen bins are emptied at 07:00 and 19:00, the others at 07:00 (1-2 times a day, DOMAIN.md §6).
EMPTYING_HOURS: dict[WasteCategory, tuple[int, ...]] = {
    "kitchen": (7, 19),
    "recyclable": (7,),
    "other": (7,),
    "hazardous": (7,),
}
RESIDENTS_RANGE = (150, 600)
COMPACTOR_SHARE = 0.5
TELEMETRY_EVERY_S = 300.0
# Outdoor cabinet temperature over a Ningbo day [assumption]: 18 °C at dawn, 28 °C mid-afternoon.
AMBIENT_MEAN_C, AMBIENT_SWING_C = 23.0, 5.0


class RecyclingBehaviour(Behaviour):
    facility = Facility.RECYCLING
    field_breakers: ClassVar[Mapping[str, FieldBreaker]] = {
        "recycling_dropoff": lambda d: d.update(weight_kg=-0.5),
        "recycling_telemetry": lambda d: d.update(bins=[]),
    }

    def __init__(self, device: Device, rng: random.Random, land: LandGrid, faults: Faults) -> None:
        super().__init__(device, rng, land, faults)
        mean_kg = sum(
            s.share * s.median_kg * math.exp(WEIGHT_SIGMA**2 / 2) for s in CATEGORY_MIX.values()
        )
        kg_per_day = rng.lognormvariate(math.log(KG_PER_DAY_MEDIAN), KG_PER_DAY_SIGMA)
        self.per_day = kg_per_day / mean_kg
        self.fill_g: dict[WasteCategory, int] = {
            c: int(s.capacity_kg * 1000 * rng.uniform(0.0, 0.5)) for c, s in CATEGORY_MIX.items()
        }
        self.residents = rng.randint(*RESIDENTS_RANGE)
        self.compactor = rng.random() < COMPACTOR_SHARE
        self.txn = 0
        self.last_check = 0.0

    def timers(self, t0: float) -> list[tuple[float, str]]:
        self.last_check = t0
        return [
            (t0 + self.rng.uniform(1.0, TELEMETRY_EVERY_S), "telemetry"),
            (next_arrival(self.rng, t0, self.per_day, DROPOFF_PROFILE), "dropoff"),
        ]

    def fire(self, timer: str, t: float) -> tuple[Emission | None, float]:
        self._empty_bins(t)
        if timer == "dropoff":
            return self._dropoff(), next_arrival(self.rng, t, self.per_day, DROPOFF_PROFILE)
        return self._telemetry(t), t + TELEMETRY_EVERY_S * self.rng.uniform(0.95, 1.05)

    def _empty_bins(self, t: float) -> None:
        """Empty each bin whose collection time passed since the last look (unless skipped)."""
        overflow = self.faults.overflow
        for category, hours in EMPTYING_HOURS.items():
            skipped = overflow is not None and t >= overflow.start
            if not skipped and any(_passed(self.last_check, t, h) for h in hours):
                self.fill_g[category] = 0
        self.last_check = t

    def _dropoff(self) -> Emission | None:
        rng = self.rng
        category = pick(rng, [(c, s.share) for c, s in CATEGORY_MIX.items()])
        spec = CATEGORY_MIX[category]
        grams = round(rng.lognormvariate(math.log(spec.median_kg * 1000), WEIGHT_SIGMA))
        grams = min(max(grams, WEIGHT_RANGE_G[0]), WEIGHT_RANGE_G[1])
        subtype = pick(rng, spec.subtypes) if spec.subtypes else None
        resident = rng.randrange(self.residents)
        if self.fill_g[category] + grams > spec.capacity_kg * 1000:
            return None  # the bin is full: the door stays shut and the resident leaves
        self.fill_g[category] += grams
        self.txn += 1
        rate = PAYOUT_FEN_PER_KG.get(subtype or "")
        body = RecyclingDropoff(
            txn_id=f"D{self.device.device_id}-{self.txn:07d}",
            category=category,
            subtype=subtype,
            weight_kg=grams / 1000,
            resident_ref=_resident_ref(self.device.device_id, resident),
            points_awarded=max(1, grams // GRAMS_PER_POINT),
            payout_fen=None if rate is None else grams * rate // 1000,
        )
        return Emission(Channel.EVENT, body, self.device.district)

    def _telemetry(self, t: float) -> Emission:
        bins = [
            BinLevel(
                category=c,
                filling_level_pct=round(min(100.0, self.fill_g[c] / (s.capacity_kg * 10)), 1),
                bin_id=f"B{i + 1}",
            )
            for i, (c, s) in enumerate(CATEGORY_MIX.items())
        ]
        # Warmest at 15:00, coolest at 03:00.
        phase = (hour_of_day(t) - 9.0) / 24.0 * 2 * math.pi
        ambient = AMBIENT_MEAN_C + AMBIENT_SWING_C * math.sin(phase)
        compactor: CompactorState | None = None
        if self.compactor:
            compactor = "running" if self.rng.random() < 0.05 else "idle"
        body = RecyclingTelemetry(
            bins=bins,
            temperature_c=round(ambient + self.rng.gauss(0.0, 0.5), 1),
            smoke_alarm=False,
            compactor=compactor,
        )
        return Emission(Channel.TELEMETRY, body, self.device.district)


def _passed(since: float, until: float, hour: int) -> bool:
    """Whether local ``hour``:00 lies in the simulated interval (since, until]."""
    offset = ((hour - SIM_START_HOUR) % 24) * 3600.0  # first occurrence after t = 0
    if until < offset:
        return False
    k = math.floor((until - offset) / SECONDS_PER_DAY)
    return offset + k * SECONDS_PER_DAY > since


def _resident_ref(device_id: str, resident: int) -> str:
    """A stable pseudonym: a hash, never a name or a phone number."""
    digest = hashlib.blake2b(f"{device_id}:{resident}".encode(), digest_size=8).hexdigest()
    return f"r:{digest}"
