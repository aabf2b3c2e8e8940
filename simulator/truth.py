"""The truth file: what the simulator published, for checking every later stage against.

Counts per channel and reject reason, exact totals (integer fen and grams) per measurement,
district, category and payment, and each device's seq range and reboots. Accumulated message by
message from the simulator's own labels and bodies (:class:`TruthBuilder`), written as JSON
(:meth:`Truth.model_dump_json`) and read back with :meth:`Truth.model_validate_json`.

Sales are totalled per outcome (success, failed, refunded): revenue is the ``success`` rows'
``amount_fen``; a failed vend charged nothing and a refunded one was paid back, and both carry the
item price on the wire. Positions count per district containing the fix (the collectors' district
look-up), every other measurement per the device's registry district.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas import DeviceStatus, MobilityPosition, RecyclingDropoff, VendingSale
from simulator.message import SimMessage

__all__ = [
    "TRUTH_FORMAT",
    "DropoffTotal",
    "PositionTotal",
    "SaleTotal",
    "SeqRange",
    "StatusTotal",
    "Truth",
    "TruthBuilder",
]

TRUTH_FORMAT: Literal["cityiot-simulator-truth/1"] = "cityiot-simulator-truth/1"
OUTSIDE = "outside"  # district of a fix in no district (the simulator never emits one)

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
            }
        )
