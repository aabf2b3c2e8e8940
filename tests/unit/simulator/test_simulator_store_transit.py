"""Stores and transit in the simulator: visitors in then out, evening and commuter peaks, riders
tapping out at another validator, offline taps sent late with their own time, journeys paired."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from simulator_testkit import NOW, SEED, verdict

from schemas import (
    DistrictIndex,
    Envelope,
    Facility,
    StoreCheckout,
    StoreGate,
    StoreTelemetry,
    TransitTap,
)
from simulator import Fleet, SimMessage, TruthBuilder, build_fleet, generate
from simulator.behaviours.base import hour_of_day, next_arrival
from simulator.behaviours.store import VISIT_PROFILE
from simulator.behaviours.transit import COMMUTER_PROFILE, MODE_BY_VENDOR
from simulator.truth import JOURNEY_WINDOW_MS, Tap, pair_journeys
from streams.dedup import SeqTracker, Verdict

# A fleet of stores and validators only, long enough for riders to reach their exits.
DEVICES = 60
MESSAGES = 12_000


@pytest.fixture(scope="module")
def stores_and_transit(locator: DistrictIndex) -> Fleet:
    fleet = build_fleet(DEVICES * 4, seed=SEED, locator=locator)
    keep = tuple(d for d in fleet.devices if d.facility in (Facility.STORE, Facility.TRANSIT))
    return Fleet(seed=SEED, devices=keep)


@pytest.fixture(scope="module")
def ticking(stores_and_transit: Fleet, locator: DistrictIndex) -> list[SimMessage]:
    """Their messages with a clock advancing 5 ms per reading, so device times differ."""
    ticks = iter(range(10**9))
    return list(
        generate(
            stores_and_transit,
            MESSAGES,
            seed=SEED,
            locator=locator,
            clock=lambda: NOW + timedelta(milliseconds=5 * next(ticks)),
        )
    )


def test_store_visitor_enters_before_leaving_and_pays_in_between(
    messages: list[SimMessage],
) -> None:
    """Per visitor: inbound, then (mostly) a checkout, then outbound; never out before in."""
    visits: dict[str, list[str]] = defaultdict(list)
    for m in messages:
        if isinstance(m.body, StoreGate):
            visits[m.body.visitor_ref].append(m.body.direction)
        elif isinstance(m.body, StoreCheckout) and m.body.visitor_ref is not None:
            visits[m.body.visitor_ref].append("checkout")
    assert visits
    for ref, events in visits.items():
        assert events in (
            ["inbound"],
            ["inbound", "checkout"],
            ["inbound", "outbound"],
            ["inbound", "checkout", "outbound"],
        ), ref
    assert sum(e[-1] == "outbound" for e in visits.values()) > len(visits) / 2


def test_store_checkouts_pay_without_cash_and_add_up(messages: list[SimMessage]) -> None:
    """Baskets add up (the model checks it), no cash at an unmanned till, some discounted."""
    baskets = [m.body for m in messages if isinstance(m.body, StoreCheckout)]
    assert baskets
    for b in baskets:
        total = sum(line.quantity * line.price_fen for line in b.lines)
        assert b.amount_fen + b.discount_fen == total
        assert b.payment != "cash"
    assert any(b.discount_fen for b in baskets)
    assert {b.payment for b in baskets} >= {"wechat", "alipay", "ecny"}


def test_store_telemetry_counts_people_and_cabinets(messages: list[SimMessage]) -> None:
    """Head count within capacity; chilled cabinets near 2-6 °C, frozen near -18 °C."""
    samples = [m.body for m in messages if isinstance(m.body, StoreTelemetry)]
    assert samples
    for s in samples:
        assert s.occupancy_pct is not None
        assert s.occupancy_pct <= 100.0
        for c in s.cabinets:
            assert c.set_point_c is not None
            assert c.temperature_c < 30.0
            assert (c.set_point_c < 0) == c.cabinet_id.startswith("F")


def test_store_visits_peak_in_the_evening() -> None:
    """A month of visits: 18-19 h sees several times 10 h, and many times 3 h."""
    rng = random.Random(3)
    t, hours = 0.0, Counter[int]()
    while t < 30 * 86_400:
        t = next_arrival(rng, t, 150.0, VISIT_PROFILE)
        hours[int(hour_of_day(t))] += 1
    assert hours[18] > 2 * hours[10]
    assert hours[18] > 20 * max(hours[3], 1)


def test_transit_riders_peak_at_commuter_hours_and_sleep_at_night() -> None:
    """A month of riders: the 7-9 h and 17-19 h peaks; nobody between 23 h and 5 h."""
    rng = random.Random(4)
    t, hours = 0.0, Counter[int]()
    while t < 30 * 86_400:
        t = next_arrival(rng, t, 300.0, COMMUTER_PROFILE)
        hours[int(hour_of_day(t))] += 1
    assert hours[7] > 2.5 * hours[11]
    assert hours[17] > 2.5 * hours[14]
    assert all(hours[h] == 0 for h in (23, 0, 1, 2, 3, 4))


def test_transit_taps_follow_mode_medium_and_fares(ticking: list[SimMessage]) -> None:
    """Each validator's taps carry its operator's mode; singles only on buses; fares in range."""
    taps = [(m, m.body) for m in ticking if isinstance(m.body, TransitTap)]
    assert taps
    vendors = {m.device_id: m.topic.split("/")[2] for m, _ in taps}
    for m, tap in taps:
        assert tap.mode == MODE_BY_VENDOR[vendors[m.device_id]]
        assert tap.tap != "single" or tap.mode == "bus"
        assert 0 <= tap.fare_fen <= 800
        assert tap.tap != "in" or tap.mode == "bus" or tap.fare_fen == 0
    assert {t.tap for _, t in taps} == {"in", "out", "single"}
    assert any(t.transfer_discount for _, t in taps)


def test_transit_metro_rider_taps_out_at_another_gate(ticking: list[SimMessage]) -> None:
    """A metro medium that taps in at one gate taps out at a different one."""
    where: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for m in ticking:
        if isinstance(m.body, TransitTap) and m.body.mode == "metro":
            where[m.body.medium_ref].append((m.body.tap, m.device_id))
    trips = [w for w in where.values() if [t for t, _ in w] == ["in", "out"]]
    assert trips
    assert sum(w[0][1] != w[1][1] for w in trips) > 0.8 * len(trips)


def test_transit_offline_taps_arrive_late_with_their_own_time_and_are_new(
    ticking: list[SimMessage], stores_and_transit: Fleet
) -> None:
    """Taps a bus kept in a dead zone are flagged and published after messages stamped later
    than themselves (they keep their capture time); the platform's dedup takes every one."""
    registry = stores_and_transit.registry()
    trackers: dict[str, SeqTracker] = defaultdict(SeqTracker)
    newest = 0
    late = 0
    for m in ticking:
        if not m.valid or m.seq is None:
            continue
        env = verdict(m, registry, NOW + timedelta(hours=2))
        assert isinstance(env, Envelope)
        assert env.seq is not None
        assert m.ts_ms == env.ts_ms
        got = trackers[m.device_id].check_seq(
            env.seq, missing_max=1024, reset_distance=100_000, ts_ms=env.ts_ms
        )
        assert got is Verdict.NEW, m.device_id
        if isinstance(m.body, TransitTap) and m.body.captured_offline:
            assert m.body.mode == "bus"
            late += env.ts_ms < newest
        newest = max(newest, env.ts_ms)
    assert late > 0


def test_truth_journeys_pair_the_run_taps(
    ticking: list[SimMessage], stores_and_transit: Fleet
) -> None:
    """The truth's journeys are pair_journeys of its taps: paired, single and open ones, few
    unpaired; each journey's fare sums its taps' fares."""
    builder = TruthBuilder(
        seed=SEED, devices=len(stores_and_transit.devices), bad_ratio=0.0, nmea_ratio=0.0
    )
    for m in ticking:
        builder.add(m)
    truth = builder.build()
    outcomes = Counter[str]()
    for j in truth.journeys:
        outcomes[j.outcome] += j.count
    assert outcomes["paired"] > 0
    assert outcomes["single"] > 0
    assert outcomes["unpaired_in"] + outcomes["unpaired_out"] < 0.1 * outcomes["paired"]
    taps = sum(t.count for t in truth.taps)
    assert taps == (
        2 * outcomes["paired"]
        + outcomes["single"]
        + outcomes["unpaired_in"]
        + outcomes["unpaired_out"]
        + outcomes["open"]
    )
    assert sum(j.fare_fen for j in truth.journeys) == sum(t.fare_fen for t in truth.taps)


def _tap(ref: str, ts: int, tap: str, fare: int = 0, order: int = 0) -> Tap:
    return Tap(ref, ts, order, tap, "330203", "metro", "M1", fare)


def test_pair_journeys_rule() -> None:
    """In then out pairs; in, in leaves the first unpaired; out alone is unpaired; an out past
    the window does not close an old in; a single is a journey; an in at the end is open."""
    hour = 3_600_000
    taps = [
        _tap("a", 0, "in"),
        _tap("a", hour, "out", 400),
        _tap("b", 0, "in"),
        _tap("b", 10, "in"),
        _tap("b", 20, "out", 300),
        _tap("c", 5, "out", 200),
        _tap("d", 0, "in"),
        _tap("d", JOURNEY_WINDOW_MS + 1, "out", 500),
        _tap("e", 0, "single", 200),
        _tap("f", 0, "in"),
    ]
    random.Random(1).shuffle(taps)  # order of arrival does not matter, device time does
    got = {k[3]: v for k, v in pair_journeys(taps).items()}
    assert got == {
        "paired": [2, 700],
        "unpaired_in": [2, 0],
        "unpaired_out": [2, 700],
        "single": [1, 200],
        "open": [1, 0],
    }
