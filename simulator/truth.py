"""The truth file: what the simulator published, for checking every later stage against.

Counts per channel and reject reason, exact totals (integer fen and grams) per measurement,
district, category and payment, and each device's seq range and reboots. Accumulated message by
message from the simulator's own labels and bodies (:class:`TruthBuilder`), written as JSON
(:meth:`Truth.model_dump_json`) and read back with :meth:`Truth.model_validate_json`.

Sales are totalled per outcome (success, failed, refunded): revenue is the ``success`` rows'
``amount_fen``; a failed vend charged nothing and a refunded one was paid back, and both carry the
item price on the wire. Store checkouts likewise. Positions count per district containing the fix
(the collectors' district look-up), every other measurement per the device's registry district.

Transit journeys are the taps paired by :func:`pair_journeys`, the rule the streams apply: per
medium, in device-time order, a tap out closes the open tap in (within :data:`JOURNEY_WINDOW_MS`),
a ``single`` tap is a journey by itself; a tap in followed by another tap in, or a tap out with no
tap in, is unpaired; a tap in still open when the run ended is ``open`` (its rider was still
travelling).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas import (
    DeviceStatus,
    MobilityPosition,
    RecyclingDropoff,
    StoreCheckout,
    StoreGate,
    TransitTap,
    VendingSale,
)
from simulator.message import SimMessage

__all__ = [
    "JOURNEY_WINDOW_MS",
    "TRUTH_FORMAT",
    "CheckoutTotal",
    "DropoffTotal",
    "GateTotal",
    "JourneyTotal",
    "PositionTotal",
    "SaleTotal",
    "SeqRange",
    "StatusTotal",
    "Tap",
    "TapTotal",
    "Truth",
    "TruthBuilder",
    "pair_journeys",
]

TRUTH_FORMAT: Literal["cityiot-simulator-truth/1"] = "cityiot-simulator-truth/1"
OUTSIDE = "outside"  # district of a fix in no district (the simulator never emits one)
# A tap out closes a tap in of the same medium up to this long before it (device time): longer
# than any ride in Ningbo's network, shorter than a day's first and last rides apart.
JOURNEY_WINDOW_MS = 4 * 3600 * 1000

_CONFIG = ConfigDict(extra="forbid", frozen=True)


class SaleTotal(BaseModel):
    model_config = _CONFIG

    district: str
    category: str
    payment: str
    outcome: str
    count: int
    quantity: int
    amount_fen: int


class DropoffTotal(BaseModel):
    model_config = _CONFIG

    district: str
    category: str
    count: int
    weight_g: int = Field(description="Exact total, integer grams.")
    weight_kg: float = Field(description="weight_g / 1000, for reading (3 decimals).")
    payout_fen: int
    points: int


class PositionTotal(BaseModel):
    model_config = _CONFIG

    district: str
    asset_type: str
    source_format: str
    count: int


class GateTotal(BaseModel):
    model_config = _CONFIG

    district: str
    direction: str
    method: str
    count: int


class CheckoutTotal(BaseModel):
    model_config = _CONFIG

    district: str
    payment: str
    outcome: str
    count: int
    items: int = Field(description="Σ quantity over the baskets' lines.")
    amount_fen: int
    discount_fen: int


class TapTotal(BaseModel):
    model_config = _CONFIG

    district: str
    mode: str
    line: str
    tap: str
    payment: str
    count: int
    fare_fen: int
    paid: int = Field(description="Taps that charged a fare (fare_fen > 0): consumption.")
    offline: int = Field(description="Taps captured offline and uploaded later.")


class JourneyTotal(BaseModel):
    """Journeys of :func:`pair_journeys`, in the district and on the line where they began (an
    unpaired tap out: where it was)."""

    model_config = _CONFIG

    district: str
    mode: str
    line: str
    outcome: str  # paired | single | unpaired_in | unpaired_out | open
    count: int
    fare_fen: int


class StatusTotal(BaseModel):
    model_config = _CONFIG

    district: str
    state: str
    count: int


class SeqRange(BaseModel):
    """Seqs of a device's valid JSON messages in its last boot: gap-free, so
    ``count == last - first + 1``; ``resets`` reboots before it (each starting again from 0)."""

    model_config = _CONFIG

    first: int
    last: int
    count: int
    resets: int = Field(
        0, description="Counter restarts (reboots) in the run: device_health's `resets`."
    )


class Truth(BaseModel):
    """What one simulator run published."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["cityiot-simulator-truth/1"] = TRUTH_FORMAT
    seed: int
    devices: int
    will_devices: int = 0
    bad_ratio: float
    nmea_ratio: float
    started_at: datetime | None = None
    finished_at: datetime | None = None
    sim_seconds: float = Field(0.0, description="Simulated time covered (daily patterns).")
    published: int = Field(description="Messages the broker acknowledged: valid + rejected.")
    valid: int
    rejected: int
    unacked: int = Field(0, description="Published but never acknowledged (run cut short).")
    valid_by_channel: dict[str, int] = Field(description="facility/channel → valid messages.")
    nmea_positions: int = Field(description="Valid positions sent as NMEA (no seq).")
    rejected_by_reason: dict[str, int]
    sales: list[SaleTotal]
    dropoffs: list[DropoffTotal]
    positions: list[PositionTotal]
    statuses: list[StatusTotal]
    seq: dict[str, SeqRange]
    # Truth files written before stores and transit joined have none of these.
    gates: list[GateTotal] = Field(default_factory=list)
    checkouts: list[CheckoutTotal] = Field(default_factory=list)
    taps: list[TapTotal] = Field(default_factory=list)
    journeys: list[JourneyTotal] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Tap:
    """What pairing needs of one tap."""

    medium_ref: str
    ts_ms: int
    order: int  # publication order: breaks ties of equal device times
    tap: str
    district: str
    mode: str
    line: str
    fare_fen: int


JourneyKey = tuple[str, str, str, str]  # district, mode, line, outcome


def pair_journeys(
    taps: Iterable[Tap], *, window_ms: int = JOURNEY_WINDOW_MS
) -> dict[JourneyKey, list[int]]:
    """Journeys per (district, mode, line, outcome) → [count, fare in fen]: the streams'
    pairing rule applied to a whole run at once (module docstring)."""
    per_medium: dict[str, list[Tap]] = defaultdict(list)
    for tap in taps:
        per_medium[tap.medium_ref].append(tap)
    out: dict[JourneyKey, list[int]] = {}

    def count(tap: Tap, outcome: str, fare: int) -> None:
        row = out.setdefault((tap.district, tap.mode, tap.line, outcome), [0, 0])
        row[0] += 1
        row[1] += fare

    for medium_taps in per_medium.values():
        medium_taps.sort(key=lambda t: (t.ts_ms, t.order))
        open_in: Tap | None = None
        for tap in medium_taps:
            if open_in is not None and tap.ts_ms - open_in.ts_ms > window_ms:
                count(open_in, "unpaired_in", open_in.fare_fen)
                open_in = None
            if tap.tap == "single":
                count(tap, "single", tap.fare_fen)
            elif tap.tap == "in":
                if open_in is not None:
                    count(open_in, "unpaired_in", open_in.fare_fen)
                open_in = tap
            elif open_in is None:
                count(tap, "unpaired_out", tap.fare_fen)
            else:
                count(open_in, "paired", open_in.fare_fen + tap.fare_fen)
                open_in = None
        if open_in is not None:
            count(open_in, "open", open_in.fare_fen)
    return out


class TruthBuilder:
    """Accumulates a :class:`Truth` from published messages."""

    def __init__(
        self, *, seed: int, devices: int, will_devices: int = 0, bad_ratio: float, nmea_ratio: float
    ) -> None:
        self.meta = {
            "seed": seed,
            "devices": devices,
            "will_devices": will_devices,
            "bad_ratio": bad_ratio,
            "nmea_ratio": nmea_ratio,
        }
        self.channels: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.nmea = 0
        # (district, category, payment, outcome) → [count, quantity, amount_fen]
        self.sales: dict[tuple[str, str, str, str], list[int]] = {}
        # (district, category) → [count, weight_g, payout_fen, points]
        self.dropoffs: dict[tuple[str, str], list[int]] = {}
        self.positions: Counter[tuple[str, str, str]] = Counter()
        self.statuses: Counter[tuple[str, str]] = Counter()
        # (district, direction, method) → count
        self.gates: Counter[tuple[str, str, str]] = Counter()
        # (district, payment, outcome) → [count, items, amount_fen, discount_fen]
        self.checkouts: dict[tuple[str, str, str], list[int]] = {}
        # (district, mode, line, tap, payment) → [count, fare_fen, paid, offline]
        self.taps: dict[tuple[str, str, str, str, str], list[int]] = {}
        self.tap_log: list[Tap] = []
        # device → [boot, first seq, last seq, count] of its latest boot acknowledged
        self.seqs: dict[str, list[int]] = {}

    def add(self, msg: SimMessage) -> None:
        if not msg.valid:
            assert msg.reason is not None
            self.reasons[msg.reason.value] += 1
            return
        self.channels[f"{msg.facility.value}/{msg.channel}"] += 1
        if msg.seq is not None:
            seen = self.seqs.get(msg.device_id)
            if seen is None or msg.boot > seen[0]:
                self.seqs[msg.device_id] = [msg.boot, msg.seq, msg.seq, 1]
            elif msg.boot == seen[0]:  # min/max: acknowledgements may be counted out of order
                seen[1] = min(seen[1], msg.seq)
                seen[2] = max(seen[2], msg.seq)
                seen[3] += 1
        district = msg.district or OUTSIDE
        body = msg.body
        if isinstance(body, VendingSale):
            row = self.sales.setdefault(
                (district, body.category, body.payment, body.outcome), [0, 0, 0]
            )
            row[0] += 1
            row[1] += body.quantity
            row[2] += body.amount_fen
        elif isinstance(body, RecyclingDropoff):
            drop = self.dropoffs.setdefault((district, body.category), [0, 0, 0, 0])
            drop[0] += 1
            drop[1] += round(body.weight_kg * 1000)
            drop[2] += body.payout_fen or 0
            drop[3] += body.points_awarded
        elif isinstance(body, MobilityPosition):
            self.nmea += msg.source_format == "nmea"
            self.positions[(district, body.asset_type or "", msg.source_format)] += 1
        elif isinstance(body, DeviceStatus):
            self.statuses[(district, body.state)] += 1
        elif isinstance(body, StoreGate):
            self.gates[(district, body.direction, body.method)] += 1
        elif isinstance(body, StoreCheckout):
            basket = self.checkouts.setdefault((district, body.payment, body.outcome), [0] * 4)
            basket[0] += 1
            basket[1] += sum(line.quantity for line in body.lines)
            basket[2] += body.amount_fen
            basket[3] += body.discount_fen
        elif isinstance(body, TransitTap):
            key = (district, body.mode, body.line_id, body.tap, body.payment)
            tap = self.taps.setdefault(key, [0, 0, 0, 0])
            tap[0] += 1
            tap[1] += body.fare_fen
            tap[2] += body.fare_fen > 0
            tap[3] += body.captured_offline
            assert msg.ts_ms is not None
            self.tap_log.append(
                Tap(
                    medium_ref=body.medium_ref,
                    ts_ms=msg.ts_ms,
                    order=len(self.tap_log),
                    tap=body.tap,
                    district=district,
                    mode=body.mode,
                    line=body.line_id,
                    fare_fen=body.fare_fen,
                )
            )

    def build(
        self,
        *,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        sim_seconds: float = 0.0,
        unacked: int = 0,
    ) -> Truth:
        valid = sum(self.channels.values())
        rejected = sum(self.reasons.values())
        return Truth.model_validate(
            {
                **self.meta,
                "started_at": started_at,
                "finished_at": finished_at,
                "sim_seconds": round(sim_seconds, 3),
                "published": valid + rejected,
                "valid": valid,
                "rejected": rejected,
                "unacked": unacked,
                "valid_by_channel": dict(sorted(self.channels.items())),
                "nmea_positions": self.nmea,
                "rejected_by_reason": dict(sorted(self.reasons.items())),
                "sales": [
                    SaleTotal(
                        district=k[0],
                        category=k[1],
                        payment=k[2],
                        outcome=k[3],
                        count=v[0],
                        quantity=v[1],
                        amount_fen=v[2],
                    )
                    for k, v in sorted(self.sales.items())
                ],
                "dropoffs": [
                    DropoffTotal(
                        district=k[0],
                        category=k[1],
                        count=v[0],
                        weight_g=v[1],
                        weight_kg=round(v[1] / 1000, 3),
                        payout_fen=v[2],
                        points=v[3],
                    )
                    for k, v in sorted(self.dropoffs.items())
                ],
                "positions": [
                    PositionTotal(district=k[0], asset_type=k[1], source_format=k[2], count=v)
                    for k, v in sorted(self.positions.items())
                ],
                "statuses": [
                    StatusTotal(district=k[0], state=k[1], count=v)
                    for k, v in sorted(self.statuses.items())
                ],
                "seq": {
                    d: SeqRange(first=v[1], last=v[2], count=v[3], resets=v[0])
                    for d, v in sorted(self.seqs.items())
                },
                "gates": [
                    GateTotal(district=k[0], direction=k[1], method=k[2], count=v)
                    for k, v in sorted(self.gates.items())
                ],
                "checkouts": [
                    CheckoutTotal(
                        district=k[0],
                        payment=k[1],
                        outcome=k[2],
                        count=v[0],
                        items=v[1],
                        amount_fen=v[2],
                        discount_fen=v[3],
                    )
                    for k, v in sorted(self.checkouts.items())
                ],
                "taps": [
                    TapTotal(
                        district=k[0],
                        mode=k[1],
                        line=k[2],
                        tap=k[3],
                        payment=k[4],
                        count=v[0],
                        fare_fen=v[1],
                        paid=v[2],
                        offline=v[3],
                    )
                    for k, v in sorted(self.taps.items())
                ],
                "journeys": [
                    JourneyTotal(
                        district=k[0], mode=k[1], line=k[2], outcome=k[3], count=v[0], fare_fen=v[1]
                    )
                    for k, v in sorted(pair_journeys(self.tap_log).items())
                ],
            }
        )
