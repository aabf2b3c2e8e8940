"""Unmanned stores (无人超市、无人便利店): visitors through the gates, baskets at the checkout,
telemetry with the people inside, the cabinets' temperatures and the gates' faults.

A visitor enters through a gate (face, QR or member card), stays a few minutes, mostly pays for a
basket, and leaves through a gate: the head count in the telemetry is exactly who is inside.
Visits follow an evening peak (after work, 17-21 h) over smaller breakfast and lunch ones. A
warming chiller (``simulator.faults.FridgeWarming``, as for vending machines) warms the first
chilled cabinet; a gate fault (``simulator.faults.GateFault``) flags one gate until repaired.
All numbers without a source are [assumption]: DOMAIN.md has none for unmanned stores.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from schemas import (
    BasketLine,
    Cabinet,
    Channel,
    Facility,
    GateState,
    StoreCheckout,
    StoreGate,
    StoreTelemetry,
)
from schemas.common import Payment, PaymentOutcome
from schemas.store import GateMethod, StoreCategory
from simulator.behaviours.base import (
    Behaviour,
    Emission,
    FieldBreaker,
    LandGrid,
    Profile,
    next_arrival,
    pick,
    signal_dbm,
)
from simulator.faults import Faults
from simulator.fleet import Device

__all__ = ["PAYMENT_MIX", "StoreBehaviour"]

# Visitors per hour of day: breakfast and lunch bumps, the evening peak after work, a quiet night
# (most unmanned stores stay open 24 h).
VISIT_PROFILE = Profile(
    [
        *(0.1, 0.05, 0.05, 0.05, 0.1, 0.2, 0.5, 1.2, 1.4, 0.8, 0.7, 1.1),  # 00-11 h
        *(1.5, 1.1, 0.7, 0.7, 1.0, 1.8, 2.4, 2.6, 2.2, 1.6, 0.9, 0.4),  # 12-23 h
    ]
)
# Visitors per store per day: log-normal around 150, clipped to 40-500 (a 30-100 m² store).
VISITS_PER_DAY_MEDIAN = 150.0
VISITS_PER_DAY_SIGMA = 0.4
VISITS_PER_DAY_RANGE = (40.0, 500.0)
# How long a visitor stays inside, s.
DWELL_S = (90.0, 720.0)
# From paying to passing the exit gate, s.
TO_EXIT_S = (10.0, 60.0)
BUY_SHARE = 0.85  # the others look around and leave
METHOD_MIX: tuple[tuple[GateMethod, float], ...] = (("face", 0.45), ("qr", 0.45), ("card", 0.10))
# No cash at an unmanned till; e-CNY a little above vending (stores push it with coupons).
PAYMENT_MIX: tuple[tuple[Payment, float], ...] = (
    ("wechat", 0.42),
    ("alipay", 0.40),
    ("ecny", 0.09),
    ("unionpay", 0.06),
    ("transit_card", 0.03),
)
OUTCOME_MIX: tuple[tuple[PaymentOutcome, float], ...] = (
    ("success", 0.97),
    ("failed", 0.02),
    ("refunded", 0.01),
)
# Basket lines: 1 + geometric, mean ~2.7; each line 1-3 items.
MORE_LINES_P = 0.6
MAX_LINES = 12
DISCOUNT_SHARE = 0.15
DISCOUNT_FEN = (50, 500)
GATES_RANGE = (1, 3)
CHILLED_RANGE = (1, 4)
FROZEN_RANGE = (0, 2)
CHILLED_SET_POINT_C = (2.0, 6.0)
FROZEN_SET_POINT_C = -18.0
SENSOR_NOISE_C = 0.3
CAPACITY_RANGE = (15, 40)
TELEMETRY_EVERY_S = 300.0


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    category: StoreCategory
    price_fen: int
    popularity: float


# A convenience store's range, prices in fen.
CATALOGUE: tuple[Product, ...] = (
    Product("6921168509256", "beverage", 200, 3.0),
    Product("6901939621608", "beverage", 350, 2.5),
    Product("6920459905012", "beverage", 550, 1.5),
    Product("6954767412573", "dairy", 650, 1.5),
    Product("6907992500133", "dairy", 450, 1.2),
    Product("6923450605332", "snack", 890, 2.0),
    Product("6924187820037", "snack", 500, 2.0),
    Product("6970399920415", "fresh_food", 1290, 1.0),
    Product("6970399920521", "fresh_food", 1690, 0.6),
    Product("6935284400017", "bakery", 790, 1.0),
    Product("6921555510016", "frozen", 1590, 0.5),
    Product("6920152400129", "instant_food", 650, 1.2),
    Product("6903148042441", "daily_goods", 990, 0.5),
    Product("6903148126042", "daily_goods", 1990, 0.3),
    Product("6900000000000", "other", 1000, 0.2),
)


@dataclass(slots=True)
class _Visitor:
    ref: str
    gate: str
    method: GateMethod


class StoreBehaviour(Behaviour):
    facility = Facility.STORE
    field_breakers: ClassVar[Mapping[str, FieldBreaker]] = {
        "store_gate": lambda d: d.update(direction="in"),
        # A till that forgot the discount: the charge no longer adds up to the basket.
        "store_checkout": lambda d: d.update(amount_fen=d["amount_fen"] + d["discount_fen"] + 1),
        "store_telemetry": lambda d: d.update(people_count=-1),
    }

    def __init__(self, device: Device, rng: random.Random, land: LandGrid, faults: Faults) -> None:
        super().__init__(device, rng, land, faults)
        self.per_day = min(
            max(
                rng.lognormvariate(math.log(VISITS_PER_DAY_MEDIAN), VISITS_PER_DAY_SIGMA),
                VISITS_PER_DAY_RANGE[0],
            ),
            VISITS_PER_DAY_RANGE[1],
        )
        self.gates = [f"G{i + 1}" for i in range(rng.randint(*GATES_RANGE))]
        chilled = [
            (f"C{i + 1}", round(rng.uniform(*CHILLED_SET_POINT_C), 1))
            for i in range(rng.randint(*CHILLED_RANGE))
        ]
        frozen = [(f"F{i + 1}", FROZEN_SET_POINT_C) for i in range(rng.randint(*FROZEN_RANGE))]
        self.cabinets = chilled + frozen
        self.capacity = rng.randint(*CAPACITY_RANGE)
        self.inside: dict[str, _Visitor] = {}
        # (time, order, action, visitor ref): checkouts and exits of the visitors inside.
        self.pending: list[tuple[float, int, str, str]] = []
        self.order = 0
        self.visits = 0
        self.txn = 0
        self.next_visit = math.inf

    def timers(self, t0: float) -> list[tuple[float, str]]:
        self.next_visit = next_arrival(self.rng, t0, self.per_day, VISIT_PROFILE)
        return [
            (t0 + self.rng.uniform(1.0, TELEMETRY_EVERY_S), "telemetry"),
            (self.next_visit, "flow"),
        ]

    def fire(self, timer: str, t: float) -> tuple[Emission | None, float]:
        if timer == "telemetry":
            return self._telemetry(t), t + TELEMETRY_EVERY_S * self.rng.uniform(0.95, 1.05)
        if self.pending and self.pending[0][0] <= t:
            _, _, action, ref = heapq.heappop(self.pending)
            emission = self._checkout(ref) if action == "checkout" else self._exit(ref)
        else:
            emission = self._enter(t)
            self.next_visit = next_arrival(self.rng, t, self.per_day, VISIT_PROFILE)
        upcoming = min(self.next_visit, self.pending[0][0] if self.pending else math.inf)
        return emission, max(t, upcoming)

    def _later(self, at: float, action: str, ref: str) -> None:
        self.order += 1
        heapq.heappush(self.pending, (at, self.order, action, ref))

    def _enter(self, t: float) -> Emission:
        rng = self.rng
        self.visits += 1
        # A pseudonym per visit: stores hash a face or account id with a daily salt [assumption].
        ref = f"v:{self.device.device_id}:{self.visits:06d}"
        visitor = _Visitor(ref, rng.choice(self.gates), pick(rng, METHOD_MIX))
        self.inside[ref] = visitor
        leave = t + rng.uniform(*DWELL_S)
        if rng.random() < BUY_SHARE:
            self._later(leave, "checkout", ref)
            leave += rng.uniform(*TO_EXIT_S)
        self._later(leave, "exit", ref)
        body = StoreGate(
            gate_id=visitor.gate, direction="inbound", method=visitor.method, visitor_ref=ref
        )
        return Emission(Channel.GATE, body, self.device.district)

    def _checkout(self, ref: str) -> Emission:
        rng = self.rng
        lines: dict[str, BasketLine] = {}
        n = 1
        while n < MAX_LINES and rng.random() < MORE_LINES_P:
            n += 1
        for product in rng.choices(CATALOGUE, [p.popularity for p in CATALOGUE], k=n):
            quantity = rng.randint(1, 3)
            old = lines.get(product.sku)
            lines[product.sku] = BasketLine(
                sku=product.sku,
                category=product.category,
                quantity=quantity + (old.quantity if old else 0),
                price_fen=product.price_fen,
            )
        total = sum(line.quantity * line.price_fen for line in lines.values())
        discount = 0
        if rng.random() < DISCOUNT_SHARE:
            discount = min(total, rng.randrange(DISCOUNT_FEN[0], DISCOUNT_FEN[1] + 1, 10))
        self.txn += 1
        body = StoreCheckout(
            txn_id=f"S{self.device.device_id}-{self.txn:07d}",
            lines=list(lines.values()),
            discount_fen=discount,
            amount_fen=total - discount,
            payment=pick(rng, PAYMENT_MIX),
            outcome=pick(rng, OUTCOME_MIX),
            visitor_ref=ref,
        )
        return Emission(Channel.EVENT, body, self.device.district)

    def _exit(self, ref: str) -> Emission:
        visitor = self.inside.pop(ref)
        body = StoreGate(
            gate_id=visitor.gate, direction="outbound", method=visitor.method, visitor_ref=ref
        )
        return Emission(Channel.GATE, body, self.device.district)

    def _telemetry(self, t: float) -> Emission:
        rng = self.rng
        cabinets = []
        fridge = self.faults.fridge
        for index, (cabinet_id, set_point) in enumerate(self.cabinets):
            temperature = set_point
            if fridge is not None and index == 0 and set_point > 0:
                temperature = fridge.temperature(t, set_point)
            temperature += rng.gauss(0.0, SENSOR_NOISE_C)
            cabinets.append(
                Cabinet(
                    cabinet_id=cabinet_id,
                    temperature_c=round(temperature, 1),
                    set_point_c=set_point,
                )
            )
        gate_fault = self.faults.gate
        faulty = gate_fault.gate_index % len(self.gates) if gate_fault is not None else None
        broken = gate_fault is not None and gate_fault.covers(t)
        people = len(self.inside)
        body = StoreTelemetry(
            people_count=people,
            occupancy_pct=round(min(100.0, 100.0 * people / self.capacity), 1),
            cabinets=cabinets,
            gates=[
                GateState(gate_id=g, fault=broken and i == faulty) for i, g in enumerate(self.gates)
            ],
            signal_dbm=signal_dbm(rng),
        )
        return Emission(Channel.TELEMETRY, body, self.device.district)
