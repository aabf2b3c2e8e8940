"""The truth file against an independent recount from decoded envelopes and the registry."""

from __future__ import annotations

from collections import Counter, defaultdict

from simulator_testkit import BAD_RATIO, DEVICES, NMEA_RATIO, NOW, SEED, verdict

from schemas import (
    DeviceStatus,
    Envelope,
    MobilityPosition,
    RecyclingDropoff,
    Registry,
    StoreCheckout,
    StoreGate,
    TransitTap,
    VendingSale,
)
from simulator import SimMessage, Truth, TruthBuilder


def _truth(messages: list[SimMessage]) -> Truth:
    builder = TruthBuilder(seed=SEED, devices=DEVICES, bad_ratio=BAD_RATIO, nmea_ratio=NMEA_RATIO)
    for m in messages:
        builder.add(m)
    return builder.build()


def test_truth_totals_equal_recount_from_decoded_envelopes(
    messages: list[SimMessage], registry: Registry
) -> None:
    """Counts, fen, grams and seq ranges equal a recount of what decode accepts or rejects."""
    truth = _truth(messages)
    channels: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    sales: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    drops: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    positions: Counter[tuple[str, ...]] = Counter()
    statuses: Counter[tuple[str, ...]] = Counter()
    gates: Counter[tuple[str, ...]] = Counter()
    baskets: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    taps: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    seqs: dict[str, list[int]] = defaultdict(list)
    boots: dict[str, int] = defaultdict(int)
    for m in messages:
        result = verdict(m, registry, NOW)
        if not isinstance(result, Envelope):
            reasons[result.value] += 1
            continue
        record = registry.get(result.device_id)
        assert record is not None
        assert record.district_adcode is not None
        district = record.district_adcode
        channels[f"{result.facility.value}/{result.channel.value}"] += 1
        if result.seq is not None:
            rebooted = isinstance(result.body, DeviceStatus) and result.body.reason == "boot"
            if rebooted and result.device_id in seqs:  # count the new boot's seqs alone
                boots[result.device_id] += 1
                seqs[result.device_id].clear()
            seqs[result.device_id].append(result.seq)
        body = result.body
        if isinstance(body, VendingSale):
            row = sales[(district, body.category, body.payment, body.outcome)]
            row[0] += 1
            row[1] += body.quantity
            row[2] += body.amount_fen
        elif isinstance(body, RecyclingDropoff):
            grams = round(body.weight_kg * 1000)
            assert abs(grams - body.weight_kg * 1000) < 1e-6, "more than 3 decimals of kg"
            drop = drops[(district, body.category)]
            drop[0] += 1
            drop[1] += grams
            drop[2] += body.payout_fen or 0
            drop[3] += body.points_awarded
        elif isinstance(body, MobilityPosition):
            positions[(district, record.asset_type or "", result.source_format)] += 1
        elif isinstance(body, DeviceStatus):
            statuses[(district, body.state)] += 1
        elif isinstance(body, StoreGate):
            gates[(district, body.direction, body.method)] += 1
        elif isinstance(body, StoreCheckout):
            basket = baskets[(district, body.payment, body.outcome)]
            basket[0] += 1
            basket[1] += sum(line.quantity for line in body.lines)
            basket[2] += body.amount_fen
            basket[3] += body.discount_fen
        elif isinstance(body, TransitTap):
            tap = taps[(district, body.mode, body.line_id, body.tap, body.payment)]
            tap[0] += 1
            tap[1] += body.fare_fen
            tap[2] += body.fare_fen > 0
            tap[3] += body.captured_offline

    assert truth.published == len(messages)
    assert truth.valid_by_channel == dict(channels)
    assert truth.rejected_by_reason == dict(reasons)
    assert {
        (s.district, s.category, s.payment, s.outcome): [s.count, s.quantity, s.amount_fen]
        for s in truth.sales
    } == dict(sales)
    assert {
        (d.district, d.category): [d.count, d.weight_g, d.payout_fen, d.points]
        for d in truth.dropoffs
    } == dict(drops)
    assert {(p.district, p.asset_type, p.source_format): p.count for p in truth.positions} == dict(
        positions
    )
    assert {(s.district, s.state): s.count for s in truth.statuses} == dict(statuses)
    assert {(g.district, g.direction, g.method): g.count for g in truth.gates} == dict(gates)
    assert {
        (c.district, c.payment, c.outcome): [c.count, c.items, c.amount_fen, c.discount_fen]
        for c in truth.checkouts
    } == dict(baskets)
    assert {
        (t.district, t.mode, t.line, t.tap, t.payment): [t.count, t.fare_fen, t.paid, t.offline]
        for t in truth.taps
    } == dict(taps)
    assert {d: (min(v), max(v), len(v), boots[d]) for d, v in seqs.items()} == {
        d: (r.first, r.last, r.count, r.resets) for d, r in truth.seq.items()
    }
    assert any(r.resets for r in truth.seq.values())


def test_truth_measurements_are_all_present(messages: list[SimMessage]) -> None:
    """A run of this size has sales (with e-CNY), drop-offs of each category and NMEA positions."""
    truth = _truth(messages)
    assert {s.payment for s in truth.sales} >= {"wechat", "alipay", "ecny"}
    assert {d.category for d in truth.dropoffs} >= {"kitchen", "recyclable", "other"}
    assert {c.payment for c in truth.checkouts} >= {"wechat", "alipay", "ecny"}
    assert {g.direction for g in truth.gates} == {"inbound", "outbound"}
    assert {t.mode for t in truth.taps} == {"bus", "metro", "bike"}
    assert truth.journeys
    assert truth.nmea_positions > 0
    assert all(r.count == r.last - r.first + 1 for r in truth.seq.values())


def test_truth_json_round_trip(messages: list[SimMessage]) -> None:
    """The truth file reads back to the same model; kg is grams / 1000 to 3 decimals."""
    truth = _truth(messages)
    again = Truth.model_validate_json(truth.model_dump_json())
    assert again == truth
    for d in again.dropoffs:
        assert d.weight_kg == round(d.weight_g / 1000, 3)
