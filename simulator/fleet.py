"""The fleet: which devices exist, of which facility and vendor, where they stand.

Built deterministically from a seed. Fixed devices (vending machines, recycling stations, stores,
transit validators) are placed
near their district's centroid, jittered, and kept only where the district index agrees they stand
in their registered district; mobile assets get a home point the same way, from which they move. The
fleet turns into the registry the collectors read (:meth:`Fleet.registry`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from schemas import DeviceRecord, District, Facility, Registry
from schemas.mobility import AssetType

__all__ = [
    "CENTROIDS_WGS84",
    "CITY_MIX",
    "DEFAULT_MIX",
    "MIXES",
    "Device",
    "Fleet",
    "FleetMix",
    "Locator",
    "TsFormat",
    "build_fleet",
]

TsFormat = Literal["rfc3339", "epoch_ms"]


class Locator(Protocol):
    """What the simulator needs of :class:`schemas.DistrictIndex`: WGS-84 point → district."""

    def locate(self, lat: float, lon: float) -> District | None: ...


# WGS-84 centroids of the ten districts (DOMAIN.md §1: DataV polygon centroids, GCJ-02 inverted).
CENTROIDS_WGS84: dict[str, tuple[float, float]] = {  # adcode → (lat, lon)
    "330203": (29.8273, 121.3484),
    "330205": (29.9629, 121.4843),
    "330206": (29.8653, 121.8845),
    "330211": (29.9956, 121.6140),
    "330212": (29.7517, 121.6692),
    "330213": (29.6088, 121.3833),
    "330225": (29.3872, 121.8405),
    "330226": (29.3080, 121.4709),
    "330281": (30.0268, 121.1212),
    "330282": (30.2325, 121.3101),
}
# Devices per district follow resident population (2020 census, rounded to 0.1 million)
# [assumption: facility density proportional to population].
DISTRICT_WEIGHTS: dict[str, float] = {
    "330203": 1.1,
    "330205": 0.5,
    "330206": 0.8,
    "330211": 0.5,
    "330212": 1.6,
    "330213": 0.6,
    "330225": 0.6,
    "330226": 0.7,
    "330281": 1.2,
    "330282": 1.8,
}
# Jitter radius around the centroid: small districts (江北, 镇海) are ~10 km across, the others
# 30-60 km; 3 and 6 km keep almost every draw inside, and the index check rejects the rest.
_SMALL_DISTRICTS = frozenset({"330205", "330211"})
_JITTER_KM = (3.0, 6.0)
_PLACEMENT_TRIES = 50
# Without an index, stay within 500 m: every centroid lies well inside its district (DOMAIN.md §1).
_UNCHECKED_JITTER_KM = 0.5
KM_PER_DEG_LAT = 111.32

# Facility mix of a fleet [assumption]: mobility is the largest (shared bikes dominate counts);
# enough stores and validators that a fleet of a hundred shows every store panel and a transit
# network with metro, bus and bike validators.
FACILITY_MIX: tuple[tuple[Facility, float], ...] = (
    (Facility.VENDING, 0.26),
    (Facility.RECYCLING, 0.18),
    (Facility.MOBILITY, 0.30),
    (Facility.STORE, 0.10),
    (Facility.TRANSIT, 0.16),
)
ASSET_MIX: tuple[tuple[AssetType, float], ...] = (
    ("bike", 0.55),
    ("ebike", 0.25),
    ("bus", 0.10),
    ("delivery_vehicle", 0.10),
)


@dataclass(frozen=True, slots=True)
class FleetMix:
    """Weights of a fleet's facilities, and of asset types among its mobility devices."""

    facilities: tuple[tuple[Facility, float], ...]
    assets: tuple[tuple[AssetType, float], ...]


# A small fleet showing every facility in quantity (tests, demos, the dashboards).
DEFAULT_MIX = FleetMix(FACILITY_MIX, ASSET_MIX)
# Ningbo at city scale (FACTS.md estimate): ~10,000 vending machines, ~5,000 recycling stations
# and ~100,000 shared bikes and e-bikes; a few thousand buses and a thousand unmanned delivery
# vehicles among the mobility devices [assumption]. 115,000 devices of this mix send ~1,900 msg/s
# at the behaviours' own intervals (a morning hour); run at the city's ~3,600 msg/s, a mobility
# device reports about every 30 s and a vending machine or station every 2-3 minutes. Beside
# them [assumption]: ~500 unmanned stores, and ~8,000 transit validators (metro gates of eight
# lines, on-board validators of ~6,000 buses, public-bike docks).
CITY_MIX = FleetMix(
    facilities=(
        (Facility.VENDING, 10.0),
        (Facility.RECYCLING, 5.0),
        (Facility.MOBILITY, 100.0),
        (Facility.STORE, 0.5),
        (Facility.TRANSIT, 8.0),
    ),
    assets=(
        ("bike", 0.60),
        ("ebike", 0.35),
        ("bus", 0.04),
        ("delivery_vehicle", 0.01),
    ),
)
MIXES: dict[str, FleetMix] = {"default": DEFAULT_MIX, "city": CITY_MIX}

# Realistic operators per facility (slugs = MQTT usernames): 友宝, 澳柯玛, 中吉 vending; 搭把手
# (Ningbo's municipal brand), 小黄狗, 回收哥 recycling; 哈啰, 美团, 青桔 bikes; 宁波公交 buses;
# 新石器, 京东物流 unmanned delivery vehicles; 缤果盒子, 小麦铺, 深兰 TakeGo unmanned stores;
# 宁波轨道交通 metro gates, 宁波公交 bus validators, 宁波公共自行车 bike docks (the operator decides
# a validator's mode: simulator.behaviours.transit.MODE_BY_VENDOR).
VENDORS: dict[Facility, tuple[str, ...]] = {
    Facility.VENDING: ("ubox", "aucma", "zhongji"),
    Facility.RECYCLING: ("dabashou", "xiaohuanggou", "huishouge"),
    Facility.STORE: ("bingobox", "xiaomai", "takego"),
    Facility.TRANSIT: ("nbmetro", "nbbus", "nbpbike"),
}
ASSET_VENDORS: dict[AssetType, tuple[str, ...]] = {
    "bike": ("hellobike", "meituan", "qingju"),
    "ebike": ("hellobike", "meituan", "qingju"),
    "bus": ("nbbus",),
    "delivery_vehicle": ("neolix", "jdlogistics"),
}
ID_PREFIX: dict[Facility | AssetType, str] = {
    Facility.VENDING: "VM",
    Facility.RECYCLING: "RS",
    Facility.STORE: "ST",
    Facility.TRANSIT: "TV",
    "bike": "BK",
    "ebike": "EB",
    "bus": "BUS",
    "delivery_vehicle": "DV",
}
FIRMWARE: dict[str, str] = {
    "ubox": "vmc-2.4.1",
    "aucma": "aucma-fw-1.8.0",
    "zhongji": "zj-3.1.2",
    "dabashou": "dbs-5.0.3",
    "xiaohuanggou": "xhg-2.2.0",
    "huishouge": "hsg-1.0.9",
    "hellobike": "hb-lock-4.3",
    "meituan": "mt-lock-2.7",
    "qingju": "qj-1.12",
    "nbbus": "jt808-bridge-1.4",
    "neolix": "neolix-x3-6.2",
    "jdlogistics": "jdl-ugv-3.0",
    "bingobox": "bingo-gw-3.2",
    "xiaomai": "xm-store-1.6",
    "takego": "takego-5.0.1",
    "nbmetro": "afc-gate-2.8",
    "nbpbike": "pbike-dock-1.3",
}
# Vendors whose firmware sends epoch milliseconds; the others RFC 3339 (the contract takes both).
EPOCH_MS_VENDORS = frozenset({"aucma", "xiaohuanggou", "meituan", "neolix", "xiaomai", "nbpbike"})
# Longest normal gap (s): twice the slowest periodic message (telemetry every 300 s; a parked
# vehicle reports every 60-300 s, DOMAIN.md §6).
EXPECTED_INTERVAL_S = 600


@dataclass(frozen=True, slots=True)
class Device:
    """One simulated device: ``lat``/``lon`` is where a fixed one stands or a mobile one lives."""

    device_id: str
    facility: Facility
    vendor: str
    district: str
    lat: float
    lon: float
    asset_type: AssetType | None
    firmware: str
    ts_format: TsFormat
    will_demo: bool = False

    def record(self) -> DeviceRecord:
        """The registry row: mobile devices have a home district but no fixed position."""
        mobile = self.facility is Facility.MOBILITY
        return DeviceRecord(
            device_id=self.device_id,
            facility=self.facility,
            vendor=self.vendor,
            district_adcode=self.district,
            lat=None if mobile else self.lat,
            lon=None if mobile else self.lon,
            asset_type=self.asset_type,
            expected_interval_s=EXPECTED_INTERVAL_S,
        )


@dataclass(frozen=True, slots=True)
class Fleet:
    """Every simulated device; ``devices`` are simulated, ``will_devices`` only demo last wills."""

    seed: int
    devices: tuple[Device, ...]
    will_devices: tuple[Device, ...] = ()

    def registry(self) -> Registry:
        return Registry(d.record() for d in (*self.devices, *self.will_devices))

    def by_facility(self, facility: Facility) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.facility is facility)


_T = TypeVar("_T")


def _pick(rng: random.Random, weighted: Sequence[tuple[_T, float]]) -> _T:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def place(rng: random.Random, district: str, locator: Locator | None) -> tuple[float, float]:
    """A point near ``district``'s centroid that ``locator`` places inside that district."""
    c_lat, c_lon = CENTROIDS_WGS84[district]
    if locator is None:
        radius = _UNCHECKED_JITTER_KM
    else:
        radius = _JITTER_KM[0] if district in _SMALL_DISTRICTS else _JITTER_KM[1]
    for _ in range(_PLACEMENT_TRIES):
        # Uniform over the disc: sqrt of a uniform radius fraction.
        r = radius * math.sqrt(rng.random())
        angle = rng.uniform(0, 2 * math.pi)
        lat = round(c_lat + r * math.cos(angle) / KM_PER_DEG_LAT, 6)
        lon = round(
            c_lon + r * math.sin(angle) / (KM_PER_DEG_LAT * math.cos(math.radians(c_lat))), 6
        )
        if locator is None:
            return lat, lon
        found = locator.locate(lat, lon)
        if found is not None and found.adcode == district:
            return lat, lon
    return c_lat, c_lon


def build_fleet(
    n: int,
    *,
    seed: int,
    locator: Locator | None,
    will_devices: int = 0,
    mix: FleetMix = DEFAULT_MIX,
) -> Fleet:
    """``n`` devices (plus ``will_devices`` vending machines for the last-will demo) from ``seed``.

    Args:
        n: Simulated devices.
        seed: Same seed, same fleet (given the same district data and mix).
        locator: District index to check placements; None places within 500 m of the centroid.
        will_devices: Extra devices that connect on their own and drop with a real MQTT last will.
        mix: Shares of facilities and asset types (``CITY_MIX``: Ningbo's proportions).
    """
    if n < 0 or will_devices < 0:
        raise ValueError("device counts must be >= 0")
    rng = random.Random(f"{seed}:fleet")
    districts = list(DISTRICT_WEIGHTS.items())
    counters: dict[str, int] = {}
    devices: list[Device] = []
    for _ in range(n):
        facility = _pick(rng, mix.facilities)
        district = _pick(rng, districts)
        asset: AssetType | None = None
        if facility is Facility.MOBILITY:
            picked: AssetType = _pick(rng, mix.assets)
            asset = picked
            vendor = rng.choice(ASSET_VENDORS[picked])
            prefix = ID_PREFIX[picked]
            counters[prefix] = counters.get(prefix, 0) + 1
            device_id = f"{prefix}-{counters[prefix]:07d}"
        else:
            vendor = rng.choice(VENDORS[facility])
            key = f"{ID_PREFIX[facility]}-{district}"
            counters[key] = counters.get(key, 0) + 1
            device_id = f"{key}-{counters[key]:04d}"
        lat, lon = place(rng, district, locator)
        devices.append(_device(device_id, facility, vendor, district, lat, lon, asset))
    wills = []
    for i in range(will_devices):
        district = _pick(rng, districts)
        vendor = rng.choice(VENDORS[Facility.VENDING])
        lat, lon = place(rng, district, locator)
        device_id = f"VM-{district}-W{i + 1:03d}"
        wills.append(
            _device(device_id, Facility.VENDING, vendor, district, lat, lon, None, will=True)
        )
    return Fleet(seed=seed, devices=tuple(devices), will_devices=tuple(wills))


def _device(
    device_id: str,
    facility: Facility,
    vendor: str,
    district: str,
    lat: float,
    lon: float,
    asset: AssetType | None,
    *,
    will: bool = False,
) -> Device:
    return Device(
        device_id=device_id,
        facility=facility,
        vendor=vendor,
        district=district,
        lat=lat,
        lon=lon,
        asset_type=asset,
        firmware=FIRMWARE[vendor],
        ts_format="epoch_ms" if vendor in EPOCH_MS_VENDORS else "rfc3339",
        will_demo=will,
    )
