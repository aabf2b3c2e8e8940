"""Geofence areas, resolved once at startup so the engine only does point-in-polygon tests.

A zone is either Ningbo districts (looked up through :class:`schemas.DistrictIndex`, whose
boundaries are converted to WGS-84 at load) or polygons given in the rules file (WGS-84).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shapely

from schemas.districts import DistrictIndex
from streams.alerts.rules import RulesError, RuleSet, Zone

__all__ = ["Zones", "build_zones"]

Contains = Callable[[float, float], bool]


class Zones:
    """Named areas: ``contains(name, lat, lon)``; the boundary counts as inside."""

    def __init__(self, tests: dict[str, Contains]) -> None:
        self._tests = dict(tests)

    def contains(self, zone: str, lat: float, lon: float) -> bool:
        return self._tests[zone](lat, lon)

    def __contains__(self, zone: object) -> bool:
        return zone in self._tests


def build_zones(rules: RuleSet, districts: DistrictIndex | None = None) -> Zones:
    """Zones of a rule set. District zones use ``districts``, loaded with defaults if needed.

    Raises:
        RulesError: a zone names an adcode the district index does not know.
        schemas.DistrictDataError: district boundaries are needed and cannot be loaded.
    """
    tests: dict[str, Contains] = {}
    for name, zone in rules.zones.items():
        if zone.districts is not None:
            districts = districts or DistrictIndex.load()
            tests[name] = _district_test(name, zone, districts)
        else:
            tests[name] = _polygon_test(zone)
    return Zones(tests)


def _district_test(name: str, zone: Zone, index: DistrictIndex) -> Contains:
    if zone.districts == "all":
        return lambda lat, lon: index.locate(lat, lon) is not None
    wanted = frozenset(zone.districts or ())
    unknown = wanted - {d.adcode for d in index.districts}
    if unknown:
        raise RulesError(f"zone {name!r}: unknown district adcodes {sorted(unknown)}")
    return lambda lat, lon: _adcode(index, lat, lon) in wanted


def _adcode(index: DistrictIndex, lat: float, lon: float) -> str | None:
    district = index.locate(lat, lon)
    return district.adcode if district else None


def _polygon_test(zone: Zone) -> Contains:
    shape: Any = shapely.make_valid(
        shapely.MultiPolygon([shapely.Polygon(ring) for ring in zone.polygons or ()])
    )
    shapely.prepare(shape)
    return lambda lat, lon: bool(shapely.intersects_xy(shape, lon, lat))
