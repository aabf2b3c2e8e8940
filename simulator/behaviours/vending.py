"""Vending machines (智能售货机): sales with a lunch and an evening peak, telemetry, restocking.

Ranges from DOMAIN.md §6: about 18 vends a day (5-60), tickets of 2-15 CNY, chilled set point
4-8 °C, 30-60 lanes of 5-10 items. A warming fridge (``simulator.faults``) raises the temperature
and the EVA-DTS codes EJJ (cooling not reaching set point) and EJH (temperature rule violated).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from schemas import Channel, Facility, SlotStock, VendingSale, VendingTelemetry
from schemas.vending import Payment, ProductCategory, SaleOutcome
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

__all__ = ["CATALOGUE", "PAYMENT_MIX", "VendingBehaviour"]

# Vends per hour of day: peaks at 11-13 h and 17-19 h (DOMAIN.md §6), quiet at night.
SALES_PROFILE = Profile(
    [
        *(0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 1.0, 0.9, 1.0, 2.0),  # 00-11 h
        *(2.4, 2.0, 1.0, 0.9, 1.0, 2.0, 2.2, 1.8, 1.2, 0.9, 0.6, 0.3),  # 12-23 h
    ]
)
# Vends per machine per day: log-normal, median 15 and sigma 0.6 give a mean near 18, clipped to
# the observed 5-60 (DOMAIN.md §6).
SALES_PER_DAY_MEDIAN = 15.0
SALES_PER_DAY_SIGMA = 0.6
SALES_PER_DAY_RANGE = (5.0, 60.0)


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    category: ProductCategory
    price_fen: int
    popularity: float


# Prices per DOMAIN.md §6: water 2-3, soft drinks and tea 3-6, snacks 3-10, coffee 8-15 CNY.
CATALOGUE: tuple[Product, ...] = (
    Product("6921168509256", "water", 200, 3.0),
    Product("6902083881412", "water", 300, 2.0),
    Product("6901939621608", "soft_drink", 350, 3.0),
    Product("6901939691601", "soft_drink", 450, 1.5),
    Product("6921317905038", "tea", 400, 2.0),
    Product("6920459905012", "tea", 550, 1.0),
    Product("6931234500011", "coffee", 1200, 1.0),
    Product("6931234500028", "coffee", 1500, 0.5),
    Product("6924187820037", "snack", 500, 1.5),
    Product("6924187821119", "snack", 850, 0.8),
    Product("6970399920415", "fresh_food", 1200, 0.5),
    Product("6903148042441", "daily_goods", 990, 0.3),
)
# How people pay at machines in Ningbo [assumption]: QR codes dominate (WeChat, Alipay); e-CNY
# since Ningbo joined the digital-RMB pilot (2022); UnionPay QuickPass, transit cards, some cash.
PAYMENT_MIX: tuple[tuple[Payment, float], ...] = (
    ("wechat", 0.48),
    ("alipay", 0.34),
    ("ecny", 0.07),
    ("unionpay", 0.04),
    ("transit_card", 0.04),
    ("cash", 0.03),
)
# MDB vend results [assumption]: a failed vend charges nothing, a refunded one was charged and
# paid back (amount_fen carries the price in both; revenue = the success outcome's sum).
OUTCOME_MIX: tuple[tuple[SaleOutcome, float], ...] = (
    ("success", 0.965),
    ("failed", 0.02),
    ("refunded", 0.015),
)
SECOND_ITEM_SHARE = 0.06
LANES_RANGE = (30, 60)
LANE_CAPACITY_RANGE = (5, 10)
LANES_PER_ROW = 10
# Operators restock below a quarter full; the door is open during that telemetry period.
RESTOCK_BELOW = 0.25
LOW_LANE_PCT = 20.0
SET_POINT_RANGE_C = (4.0, 8.0)
SENSOR_NOISE_C = 0.3
# EJH fires when the compartment stays above 10 °C for more than 30 minutes (DOMAIN.md §6).
ALARM_ABOVE_C = 10.0
ALARM_AFTER_S = 1800.0
TELEMETRY_EVERY_S = 300.0


class VendingBehaviour(Behaviour):
    facility = Facility.VENDING
    field_breakers: ClassVar[Mapping[str, FieldBreaker]] = {
        "vending_sale": lambda d: d.update(amount_fen=3.5),
        "vending_telemetry": lambda d: d.update(temperature_c=120.0),
    }

    def __init__(self, device: Device, rng: random.Random, land: LandGrid, faults: Faults) -> None:
        super().__init__(device, rng, land, faults)
        self.per_day = min(
            max(
                rng.lognormvariate(math.log(SALES_PER_DAY_MEDIAN), SALES_PER_DAY_SIGMA),
                SALES_PER_DAY_RANGE[0],
            ),
            SALES_PER_DAY_RANGE[1],
        )
        self.set_point = round(rng.uniform(*SET_POINT_RANGE_C), 1)
        lanes = rng.randint(*LANES_RANGE)
        self.labels = [
            f"{chr(65 + i // LANES_PER_ROW)}{i % LANES_PER_ROW + 1}" for i in range(lanes)
        ]
        weights = [p.popularity for p in CATALOGUE]
        self.products = rng.choices(CATALOGUE, weights, k=lanes)
        self.capacity = [rng.randint(*LANE_CAPACITY_RANGE) for _ in range(lanes)]
        self.stock = [rng.randint(c // 2, c) for c in self.capacity]
        self.txn = 0
        self.restock_pending = False

    def timers(self, t0: float) -> list[tuple[float, str]]:
        return [
            (t0 + self.rng.uniform(1.0, TELEMETRY_EVERY_S), "telemetry"),
            (next_arrival(self.rng, t0, self.per_day, SALES_PROFILE), "sale"),
        ]

    def fire(self, timer: str, t: float) -> tuple[Emission | None, float]:
        if timer == "sale":
            return self._sale(), next_arrival(self.rng, t, self.per_day, SALES_PROFILE)
        return self._telemetry(t), t + TELEMETRY_EVERY_S * self.rng.uniform(0.95, 1.05)

    def _sale(self) -> Emission | None:
        stocked = [i for i, s in enumerate(self.stock) if s > 0]
        if not stocked:
            return None  # sold out: the customer walks away
        lane = self.rng.choices(stocked, [self.products[i].popularity for i in stocked])[0]
        product = self.products[lane]
        quantity = 2 if self.rng.random() < SECOND_ITEM_SHARE and self.stock[lane] >= 2 else 1
        outcome = pick(self.rng, OUTCOME_MIX)
        payment = pick(self.rng, PAYMENT_MIX)
        if outcome == "success":
            self.stock[lane] -= quantity
        self.txn += 1
        body = VendingSale(
            txn_id=f"T{self.device.device_id}-{self.txn:07d}",
            sku=product.sku,
            category=product.category,
            quantity=quantity,
            amount_fen=product.price_fen * quantity,
            payment=payment,
            outcome=outcome,
            slot=self.labels[lane],
        )
        if sum(self.stock) < RESTOCK_BELOW * sum(self.capacity):
            self.restock_pending = True
        return Emission(Channel.EVENT, body, self.device.district)

    def _telemetry(self, t: float) -> Emission:
        door_open = self.restock_pending
        if door_open:
            self.stock = list(self.capacity)
            self.restock_pending = False
        temperature = self.set_point
        codes: list[str] = []
        fridge = self.faults.fridge
        if fridge is not None:
            temperature = fridge.temperature(t, self.set_point)
            if temperature > self.set_point + 2.0:
                codes.append("EJJ")
            if temperature > ALARM_ABOVE_C and (
                t - fridge.above_since(ALARM_ABOVE_C, self.set_point) > ALARM_AFTER_S
            ):
                codes.append("EJH")
        temperature += self.rng.gauss(0.0, SENSOR_NOISE_C)
        low = [
            SlotStock(slot=label, stock_pct=round(100.0 * s / c, 1))
            for label, s, c in zip(self.labels, self.stock, self.capacity, strict=True)
            if 100.0 * s / c < LOW_LANE_PCT
        ]
        body = VendingTelemetry(
            temperature_c=round(temperature, 1),
            door_open=door_open,
            stock_pct=round(100.0 * sum(self.stock) / sum(self.capacity), 1),
            slots=low or None,
            signal_dbm=signal_dbm(self.rng),
            error_codes=codes,
        )
        return Emission(Channel.TELEMETRY, body, self.device.district)
