"""Behaviours stay within DOMAIN.md §6's realistic ranges and daily shapes."""

from __future__ import annotations

import random
from collections import Counter

from schemas import MobilityPosition, RecyclingDropoff, VendingSale
from simulator import SimMessage
from simulator.behaviours.base import hour_of_day, next_arrival
from simulator.behaviours.mobility import ASSETS
from simulator.behaviours.vending import SALES_PROFILE

# Ningbo's extent (WGS-84).
LAT_RANGE = (28.85, 30.50)
LON_RANGE = (120.86, 122.27)


def test_vending_sales_are_priced_in_fen_within_range(messages: list[SimMessage]) -> None:
    """Tickets of 2-15 CNY per item, integer fen, quantities 1-2."""
    sales = [m.body for m in messages if isinstance(m.body, VendingSale)]
    assert sales
    for s in sales:
        assert 200 <= s.amount_fen // s.quantity <= 1500
        assert s.quantity in (1, 2)


def test_recycling_dropoffs_weigh_whole_grams_within_range(messages: list[SimMessage]) -> None:
    """10 g - 10 kg, whole grams."""
    drops = [m.body for m in messages if isinstance(m.body, RecyclingDropoff)]
    assert drops
    for d in drops:
        assert 0.01 <= d.weight_kg <= 10
        assert round(d.weight_kg * 1000) == d.weight_kg * 1000


def test_mobility_positions_in_ningbo_at_plausible_speeds(messages: list[SimMessage]) -> None:
    """Fixes lie in Ningbo; no asset exceeds its cruise range (e-bikes stay under 25 km/h)."""
    fixes = [m.body for m in messages if isinstance(m.body, MobilityPosition)]
    assert fixes
    for f in fixes:
        assert LAT_RANGE[0] < f.lat < LAT_RANGE[1]
        assert LON_RANGE[0] < f.lon < LON_RANGE[1]
        assert f.asset_type is not None
        assert f.speed_kmh is not None
        assert f.speed_kmh <= ASSETS[f.asset_type].cruise_kmh[1]
    assert any(f.speed_kmh for f in fixes)
    assert any(f.speed_kmh == 0 for f in fixes)


def test_next_arrival_follows_the_daily_profile() -> None:
    """Thirty days of vends: the 12 h hour sees many times the 03 h hour, ~18 a day overall."""
    rng = random.Random(5)
    t, hours = 0.0, Counter[int]()
    while t < 30 * 86_400:
        t = next_arrival(rng, t, 18.0, SALES_PROFILE)
        hours[int(hour_of_day(t))] += 1
    total = sum(hours.values())
    assert 30 * 15 < total < 30 * 21
    assert hours[12] > 10 * max(hours[3], 1)
