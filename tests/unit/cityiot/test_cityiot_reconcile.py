"""The reconciliation's catalogue comes from the schemas and matches what streams writes."""

from __future__ import annotations

from collections import Counter

from cityiot.reconcile import (
    CHANNEL_MEASUREMENTS,
    STATUS_MEASUREMENT,
    UNKNOWN_DISTRICT,
    Stored,
    compare,
)
from schemas import Channel
from schemas.topic import CHANNELS_BY_FACILITY
from simulator.truth import CheckoutTotal, GateTotal, SeqRange, TapTotal, Truth
from streams.measurements import MEASUREMENTS
from streams.points import UNKNOWN


def test_reconcile_catalogue_covers_every_channel() -> None:
    """Every facility/channel the topic grammar allows is reconciled (status all together)."""
    expected = {
        f"{facility}/{channel}"
        for facility, channels in CHANNELS_BY_FACILITY.items()
        for channel in channels
        if channel is not Channel.STATUS
    }
    assert set(CHANNEL_MEASUREMENTS) == expected


def test_reconcile_measurements_are_the_raw_ones_streams_writes() -> None:
    """Each kind streams writes a raw point for is counted, under the name streams gives it."""
    assert {*CHANNEL_MEASUREMENTS.values(), STATUS_MEASUREMENT} == set(MEASUREMENTS)
    assert UNKNOWN_DISTRICT == UNKNOWN


def _truth(valid_by_channel: dict[str, int]) -> Truth:
    return Truth(
        seed=1,
        devices=2,
        bad_ratio=0.0,
        nmea_ratio=0.0,
        published=sum(valid_by_channel.values()),
        valid=sum(valid_by_channel.values()),
        rejected=0,
        valid_by_channel=valid_by_channel,
        nmea_positions=0,
        rejected_by_reason={},
        sales=[],
        dropoffs=[],
        positions=[],
        statuses=[],
        seq={},
    )


def _stored(points: dict[str, int], statuses: int) -> Stored:
    return Stored(
        points=points,
        statuses=statuses,
        sales={},
        sales_1m={},
        dropoffs={},
        dropoffs_1m={},
        positions={},
    )


def test_compare_counts_a_missing_raw_point_as_lost() -> None:
    """A sale storage lacks is lost; statuses of every facility are counted together."""
    truth = _truth({"vending/event": 3, "vending/status": 1, "mobility/status": 1})
    result = compare(truth, _stored({"vending_sale": 2}, statuses=2), Counter())
    assert result.lost == 1
    assert [(c.name, c.expected, c.actual) for c in result.mismatches] == [
        ("points vending_sale", 3, 2)
    ]
    assert not result.exact


def test_compare_exact_when_storage_holds_the_truth() -> None:
    """Every raw point stored and every status: nothing lost, exact."""
    truth = _truth({"recycling/telemetry": 4, "recycling/status": 2})
    result = compare(truth, _stored({"recycling_telemetry": 4}, statuses=2), Counter())
    assert (result.lost, result.stored, result.exact) == (0, 6, True)


def test_reconcile_deadletter_identity_is_topic_and_bytes() -> None:
    """A redelivered message dead-lettered twice (another receive time) is one dead letter."""
    from cityiot.reconcile import _deadletter_identity

    first = {"reason": "bad_json", "topic": "city/x", "payload_b64": "e30=", "received_at": "a"}
    again = {**first, "received_at": "b", "collector_id": "other"}
    other = {**first, "payload_b64": "e2E=", "received_at": "a"}
    streams = {"source": "streams", "reason": "influx_rejected", "app_id": "w"}
    assert _deadletter_identity(first, b"1") == _deadletter_identity(again, b"2")
    assert _deadletter_identity(first, b"1") != _deadletter_identity(other, b"1")
    assert _deadletter_identity(streams, b"x") != _deadletter_identity(streams, b"y")


def test_compare_checks_resets_per_device() -> None:
    """A reboot the truth has must be in device_health, and no device may reset more: one check
    per device either side names."""
    truth = _truth({"vending/status": 3}).model_copy(
        update={
            "seq": {
                "VM-1": SeqRange(first=0, last=4, count=5, resets=1),
                "VM-2": SeqRange(first=0, last=9, count=10),
            }
        }
    )
    stored = _stored({}, statuses=3)
    exact = compare(truth, stored.model_copy(update={"resets": {"VM-1": 1}}), Counter())
    assert exact.exact
    assert [(c.name, c.expected, c.actual) for c in exact.checks if "resets" in c.name] == [
        ("resets VM-1", 1, 1)
    ]
    wrong = compare(truth, stored.model_copy(update={"resets": {"VM-2": 1}}), Counter())
    assert [(c.name, c.expected, c.actual) for c in wrong.mismatches] == [
        ("resets VM-1", 1, 0),
        ("resets VM-2", 0, 1),
    ]
    assert not wrong.exact
    assert wrong.lost == 0


def test_compare_checks_stores_transit_and_consumption() -> None:
    """Gate passes, checkouts (items, fen), taps per line (fen) and the consumption roll-up are
    compared: storage holding exactly them is exact; a checkout missing from consumption_1m
    and a fare missing from transit_tap_1m are named."""
    truth = _truth({"store/event": 2, "transit/event": 3}).model_copy(
        update={
            "gates": [GateTotal(district="330203", direction="inbound", method="face", count=4)],
            "checkouts": [
                CheckoutTotal(
                    district="330203",
                    payment="ecny",
                    outcome="success",
                    count=2,
                    items=5,
                    amount_fen=3680,
                    discount_fen=200,
                )
            ],
            "taps": [
                TapTotal(
                    district="330212",
                    mode="metro",
                    line="M1",
                    tap="out",
                    payment="alipay",
                    count=2,
                    fare_fen=600,
                    paid=2,
                    offline=0,
                ),
                TapTotal(
                    district="330212",
                    mode="metro",
                    line="M1",
                    tap="in",
                    payment="alipay",
                    count=1,
                    fare_fen=0,
                    paid=0,
                    offline=0,
                ),
            ],
        }
    )
    stored = _stored({"store_checkout": 2, "transit_tap": 3}, statuses=0).model_copy(
        update={
            "gates": {("330203", "inbound", "face"): 4},
            "gates_1m": {("330203", "inbound", "face"): 4},
            "checkouts": {("330203", "ecny", "success"): (2, 5, 3680)},
            "checkouts_1m": {("330203", "ecny", "success"): (2, 5, 3680)},
            "taps": {
                ("330212", "M1", "out", "alipay"): (2, 600),
                ("330212", "M1", "in", "alipay"): (1, 0),
            },
            "taps_1m": {("330212", "M1", "out"): (2, 600), ("330212", "M1", "in"): (1, 0)},
            "consumption_1m": {
                ("330203", "store", "ecny"): (2, 3680),
                ("330212", "transit", "alipay"): (2, 600),
            },
        }
    )
    assert compare(truth, stored, Counter()).exact
    short = stored.model_copy(
        update={
            "consumption_1m": {("330212", "transit", "alipay"): (2, 600)},
            "taps_1m": {("330212", "M1", "out"): (2, 400), ("330212", "M1", "in"): (1, 0)},
        }
    )
    wrong = compare(truth, short, Counter())
    assert [(c.name, c.expected, c.actual) for c in wrong.mismatches] == [
        ("taps_1m 330212/M1/out fen", 600, 400),
        ("consumption_1m 330203/store/ecny count", 2, 0),
        ("consumption_1m 330203/store/ecny fen", 3680, 0),
    ]
