"""Stores and transit through the pure core: raw points without pseudonyms, their roll-ups, and
the city's consumption roll-up by payment method across vending, stores and transit."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from schemas import Enrichment, Envelope, decode
from schemas.examples import EXAMPLE_DEVICE_IDS, EXAMPLE_VENDORS, EXAMPLES
from streams.processor import BatchResult, Processor
from streams.state import DeviceState, PartitionState

RECEIVED_AT = datetime(2025, 5, 1, 4, 6, 0, tzinfo=UTC)
AT = datetime(2025, 5, 1, 4, 5, 10, tzinfo=UTC)  # every event in the 04:05 window
CHANNEL = {
    "vending_sale": "event",
    "store_gate": "gate",
    "store_checkout": "event",
    "store_telemetry": "telemetry",
    "transit_tap": "event",
    "transit_telemetry": "telemetry",
}


def _envelope(kind: str, seq: int, device: str | None = None, **changes: Any) -> Envelope:
    facility = kind.split("_")[0]
    device_id = device or EXAMPLE_DEVICE_IDS[facility]
    topic = f"city/{facility}/{EXAMPLE_VENDORS[facility]}/{device_id}/{CHANNEL[kind]}"
    payload = {**EXAMPLES[kind], "ts": AT.isoformat(), "seq": seq, **changes}
    env = decode(topic, json.dumps(payload).encode(), received_at=RECEIVED_AT)
    enrichment = Enrichment(district_adcode="330203", district_name="海曙区", vendor=env.vendor)
    return env.model_copy(update={"enrichment": enrichment})


def _run(*envelopes: Envelope, proc: Processor | None = None) -> tuple[Processor, BatchResult]:
    proc = proc or Processor(lateness_ms=600_000)
    result = BatchResult()
    records = [(i, e.model_dump_json().encode()) for i, e in enumerate(envelopes)]
    proc.process(0, records, result)
    return proc, result


def _points(lines: list[str], measurement: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    out = []
    for text in lines:
        series, fields, _ = text.rsplit(" ", 2)
        name, *tags = series.split(",")
        if name == measurement:
            out.append(
                (
                    dict(t.split("=", 1) for t in tags),
                    dict(f.split("=", 1) for f in re.split(r",(?=\w+=)", fields)),
                )
            )
    return out


def test_raw_points_of_store_and_transit_leave_pseudonyms_out() -> None:
    """Each new kind is written raw under its own name; visitor and medium refs are not."""
    envs = [_envelope(kind, seq) for seq, kind in enumerate(CHANNEL) if kind != "vending_sale"]
    _, result = _run(*envs)
    for env in envs:
        assert len(_points(result.lines, env.body.kind)) == 1
    text = "\n".join(result.lines)
    assert EXAMPLES["store_gate"]["visitor_ref"] not in text
    assert EXAMPLES["transit_tap"]["medium_ref"] not in text
    ((_, tap),) = _points(result.lines, "transit_tap")
    assert (tap["line"], tap["fare_fen"], tap["captured_offline"]) == ('"M1"', "400i", "false")
    ((_, tel),) = _points(result.lines, "store_telemetry")
    assert (tel["people_count"], tel["chilled_max_c"], tel["frozen_max_c"]) == (
        "7i",
        "3.8",
        "-18.5",
    )


def test_store_checkout_rollup_carries_basket_size_and_discounts() -> None:
    """store_checkout_1m by payment and outcome: count, fen, discount, items and lines."""
    lines = [{"sku": "1", "category": "snack", "quantity": 3, "price_fen": 500}]
    first = _envelope("store_checkout", 1)
    second = _envelope("store_checkout", 2, lines=lines, discount_fen=0, amount_fen=1500)
    _, result = _run(first, second)
    ((tags, fields),) = _points(result.lines, "store_checkout_1m")
    assert (tags["payment"], tags["outcome"]) == ("ecny", "success")
    assert fields["count"] == "2i"
    assert fields["amount_fen"] == f"{1840 + 1500}i"
    assert fields["discount_fen"] == "100i"
    assert fields["items"] == f"{4 + 3}i"
    assert fields["lines"] == f"{3 + 1}i"


def test_transit_tap_rollup_by_line_mode_and_tap() -> None:
    """transit_tap_1m per line, mode and tap: taps, fares, transfers, offline ones."""
    taps = [
        _envelope("transit_tap", 1, tap="in", fare_fen=0),
        _envelope("transit_tap", 2, captured_offline=True),
        _envelope("transit_tap", 3, transfer_discount=True, fare_fen=300),
    ]
    _, result = _run(*taps)
    rollups = {t["tap"]: f for t, f in _points(result.lines, "transit_tap_1m")}
    assert set(rollups) == {"in", "out"}
    assert rollups["in"]["count"] == "1i"
    assert (rollups["out"]["count"], rollups["out"]["fare_fen"]) == ("2i", "700i")
    assert (rollups["out"]["transfers"], rollups["out"]["offline"]) == ("1i", "1i")
    ((tags, _),) = _points(result.lines, "transit_tap_1m")[:1]
    assert (tags["line"], tags["mode"], tags["facility"]) == ("M1", "metro", "transit")


def _consumption(lines: list[str]) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (t["facility"], t["payment"]): (int(f["count"][:-1]), int(f["amount_fen"][:-1]))
        for t, f in _points(lines, "consumption_1m")
    }


def test_consumption_rollup_adds_what_was_paid_across_facilities() -> None:
    """consumption_1m by facility and payment: successful sales and checkouts, fares charged;
    failed payments and free taps are not consumption; nothing per device."""
    envs = [
        _envelope("vending_sale", 1, payment="ecny"),
        _envelope("vending_sale", 2, payment="ecny", outcome="failed"),
        _envelope("store_checkout", 1),
        _envelope("store_checkout", 2, outcome="refunded"),
        _envelope("transit_tap", 1),
        _envelope("transit_tap", 2, tap="in", fare_fen=0),
        _envelope("transit_tap", 3, medium="card", payment="transit_card", fare_fen=200),
    ]
    _, result = _run(*envs)
    assert _consumption(result.lines) == {
        ("vending", "ecny"): (1, 350),
        ("store", "ecny"): (1, 1840),
        ("transit", "alipay"): (1, 400),
        ("transit", "transit_card"): (1, 200),
    }
    assert not any(text.startswith("consumption_device_1m") for text in result.lines)


def test_consumption_rollup_survives_a_restart_exactly() -> None:
    """After a restart the group is rebuilt from the device records: the next event of the window
    rewrites consumption_1m with the whole window, not with itself alone."""
    proc, first = _run(_envelope("store_checkout", 1), _envelope("transit_tap", 1))
    saved = {d: s.dump() for d, s in proc.partitions[0].devices.items()}
    part = PartitionState(0, {d: DeviceState.load(raw) for d, raw in saved.items()})
    part.rebuild_groups()
    restarted = Processor(lateness_ms=600_000, partitions={0: part})
    _, second = _run(_envelope("store_checkout", 2, payment="ecny"), proc=restarted)
    assert _consumption(second.lines) == {("store", "ecny"): (2, 2 * 1840)}
    assert _consumption(first.lines)[("transit", "alipay")] == (1, 400)
