"""Unmanned stores: gate passes, checkouts whose amounts add up, telemetry; strict like the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jsonschema
import pytest
from schemas_testkit import example, topic_for, wire

from schemas import Rejected, RejectReason, StoreCheckout, StoreGate, StoreTelemetry, decode
from schemas.export import json_schemas


def _lines(*lines: tuple[int, int]) -> list[dict[str, Any]]:
    return [
        {"sku": f"69000000000{i}", "category": "snack", "quantity": q, "price_fen": p}
        for i, (q, p) in enumerate(lines)
    ]


def test_decode_store_messages_on_their_channels(received_at: datetime) -> None:
    """Gate passes on gate, checkouts on event, telemetry on telemetry."""
    for kind, channel, model in (
        ("store_gate", "gate", StoreGate),
        ("store_checkout", "event", StoreCheckout),
        ("store_telemetry", "telemetry", StoreTelemetry),
    ):
        env = decode(topic_for("store", channel), wire(example(kind)), received_at=received_at)
        assert isinstance(env.body, model)
        assert env.facility.value == "store"


@pytest.mark.parametrize(
    ("lines", "discount", "amount"),
    [(((2, 200), (1, 650)), 0, 1050), (((1, 890),), 90, 800), (((3, 0),), 0, 0)],
    ids=["no-discount", "discounted", "free-items"],
)
def test_checkout_amount_adds_up_to_lines(
    received_at: datetime, lines: tuple[tuple[int, int], ...], discount: int, amount: int
) -> None:
    """amount_fen + discount_fen equal to Σ quantity × price_fen is accepted."""
    payload = example(
        "store_checkout", lines=_lines(*lines), discount_fen=discount, amount_fen=amount
    )
    env = decode(topic_for("store", "event"), wire(payload), received_at=received_at)
    assert isinstance(env.body, StoreCheckout)
    assert env.body.amount_fen == amount


@pytest.mark.parametrize(
    ("discount", "amount"), [(0, 1049), (0, 1051), (100, 1050)], ids=["short", "over", "discount"]
)
def test_checkout_amount_not_adding_up_is_invalid_field(
    received_at: datetime, discount: int, amount: int
) -> None:
    """A basket whose charge does not add up to its lines is refused, amount_fen named."""
    payload = example(
        "store_checkout", lines=_lines((2, 200), (1, 650)), discount_fen=discount, amount_fen=amount
    )
    with pytest.raises(Rejected) as info:
        decode(topic_for("store", "event"), wire(payload), received_at=received_at)
    assert info.value.reason is RejectReason.INVALID_FIELD
    assert info.value.field == "amount_fen"
    assert "1050" in info.value.detail


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lines": []}, "lines"),
        ({"direction": "in"}, "direction"),
        ({"method": "fingerprint"}, "method"),
        ({"visitor_ref": "张三"}, "visitor_ref"),
    ],
    ids=["empty-basket", "direction-word", "unknown-method", "name-as-visitor"],
)
def test_store_field_out_of_contract_is_named(
    received_at: datetime, changes: dict[str, Any], field: str
) -> None:
    """Wrong values of store fields are invalid_field with the field named."""
    kind, channel = ("store_checkout", "event") if "lines" in changes else ("store_gate", "gate")
    with pytest.raises(Rejected) as info:
        decode(topic_for("store", channel), wire(example(kind, **changes)), received_at=received_at)
    assert info.value.reason is RejectReason.INVALID_FIELD
    assert info.value.field == field


def test_store_telemetry_needs_a_gate_and_bounds_cabinets(received_at: datetime) -> None:
    """A store has at least one gate; a cabinet's temperature stays in the physical range."""
    for changes, field in (({"gates": []}, "gates"), (None, "cabinets[0].temperature_c")):
        if changes is None:
            cabinet = {"cabinet_id": "C1", "temperature_c": 120.0}
            changes = {"cabinets": [cabinet]}
        payload = example("store_telemetry", **changes)
        with pytest.raises(Rejected) as info:
            decode(topic_for("store", "telemetry"), wire(payload), received_at=received_at)
        assert info.value.field == field


def test_store_checkout_json_schema_refuses_a_float_price() -> None:
    """The exported schema types a basket line's price as integer fen too."""
    schema = json_schemas()["store_checkout"]
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(example("store_checkout"))
    broken = example("store_checkout", lines=[{**_lines((1, 200))[0], "price_fen": 2.5}])
    assert not validator.is_valid(broken)
