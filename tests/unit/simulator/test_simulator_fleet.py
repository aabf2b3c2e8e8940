"""The fleet: placement in the registered district, registry round trip, realistic mix."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from schemas import DistrictIndex, Facility, load_registry
from simulator import Fleet
from simulator.fleet import ASSET_VENDORS, CITY_MIX, DEFAULT_MIX, VENDORS, build_fleet

# Ningbo's extent (WGS-84, DOMAIN.md §6 box shifted ~500 m from GCJ-02).
LAT_RANGE = (28.85, 30.50)
LON_RANGE = (120.86, 122.27)


def test_build_fleet_places_fixed_devices_in_their_district(
    fleet: Fleet, locator: DistrictIndex
) -> None:
    """The index locates every device's point in the district the registry gives it."""
    for device in (*fleet.devices, *fleet.will_devices):
        found = locator.locate(device.lat, device.lon)
        assert found is not None, device.device_id
        assert found.adcode == device.district, device.device_id


def test_build_fleet_registry_round_trips_through_csv(fleet: Fleet, tmp_path: Path) -> None:
    """write_csv then load_registry gives the same records (the collectors' input)."""
    path = tmp_path / "registry.csv"
    fleet.registry().write_csv(path)
    assert list(load_registry(path)) == list(fleet.registry())


def test_build_fleet_mix_and_vendors(fleet: Fleet) -> None:
    """Every facility and every asset type appear, each with one of its vendors."""
    facilities = Counter(d.facility for d in fleet.devices)
    assert set(facilities) == set(Facility)
    assets = Counter(d.asset_type for d in fleet.devices if d.asset_type is not None)
    assert set(assets) == set(ASSET_VENDORS)
    for d in fleet.devices:
        allowed = ASSET_VENDORS[d.asset_type] if d.asset_type else VENDORS[d.facility]
        assert d.vendor in allowed
        assert LAT_RANGE[0] < d.lat < LAT_RANGE[1]
        assert LON_RANGE[0] < d.lon < LON_RANGE[1]
    assert len({d.district for d in fleet.devices}) == 10


def test_build_fleet_without_index_stays_near_centroids() -> None:
    """Without boundary data, devices stand within ~500 m of their district's centroid."""
    fleet = build_fleet(50, seed=3, locator=None)
    from simulator.fleet import CENTROIDS_WGS84

    for d in fleet.devices:
        c_lat, c_lon = CENTROIDS_WGS84[d.district]
        assert abs(d.lat - c_lat) < 0.005
        assert abs(d.lon - c_lon) < 0.006


def test_build_fleet_default_mix_is_the_fleet_without_a_mix() -> None:
    """Naming the default mix changes nothing: same seed, same devices as before mixes existed."""
    assert build_fleet(200, seed=5, locator=None) == build_fleet(
        200, seed=5, locator=None, mix=DEFAULT_MIX
    )


def test_build_fleet_city_mix_has_ningbo_proportions() -> None:
    """10 vending : 5 recycling : 100 mobility : 0.5 stores : 8 transit validators, mostly bikes,
    within sampling noise (n = 4,600)."""
    n = 4_600
    fleet = build_fleet(n, seed=2, locator=None, mix=CITY_MIX)
    facilities = Counter(d.facility for d in fleet.devices)
    total = sum(w for _, w in CITY_MIX.facilities)
    for facility, weight in CITY_MIX.facilities:
        share = weight / total
        # Binomial: within five standard deviations (vending 372 ± 90, mobility 3,725 ± 130).
        assert abs(facilities[facility] - n * share) < 5 * math.sqrt(n * share * (1 - share)) + 1
    assert facilities[Facility.STORE] > 0
    assert facilities[Facility.TRANSIT] > facilities[Facility.RECYCLING]
    assets = Counter(d.asset_type for d in fleet.devices if d.asset_type is not None)
    assert assets["bike"] + assets["ebike"] > 0.9 * facilities[Facility.MOBILITY]
    assert set(assets) == set(ASSET_VENDORS)
