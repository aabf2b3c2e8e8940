"""Transit one card / one code: taps whose payment suits the medium, offline taps, telemetry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from schemas_testkit import example, topic_for, wire

from schemas import Rejected, RejectReason, TransitTap, TransitTelemetry, decode
from schemas.encode import format_ts
from schemas.transit import MEDIUM_PAYMENTS

TAP_TOPIC = topic_for("transit", "event")


@pytest.mark.parametrize(
    ("medium", "payment"),
    [(m, p) for m, payments in sorted(MEDIUM_PAYMENTS.items()) for p in sorted(payments)],
)
def test_tap_accepts_every_payment_of_its_medium(
    received_at: datetime, medium: str, payment: str
) -> None:
    """Each medium clears through the payment methods the table gives it."""
    payload = example("transit_tap", medium=medium, payment=payment)
    env = decode(TAP_TOPIC, wire(payload), received_at=received_at)
    assert isinstance(env.body, TransitTap)
    assert (env.body.medium, env.body.payment) == (medium, payment)


@pytest.mark.parametrize(
    ("medium", "payment"),
    [("card", "wechat"), ("ecny_wallet", "alipay"), ("qr", "transit_card"), ("nfc", "cash")],
)
def test_tap_payment_not_of_its_medium_is_invalid_field(
    received_at: datetime, medium: str, payment: str
) -> None:
    """A card cannot pay by WeChat, nor a hard wallet by Alipay: the payment field is named."""
    payload = example("transit_tap", medium=medium, payment=payment)
    with pytest.raises(Rejected) as info:
        decode(TAP_TOPIC, wire(payload), received_at=received_at)
    assert info.value.reason is RejectReason.INVALID_FIELD
    assert info.value.field == "payment"
    assert medium in info.value.detail


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fare_fen": 10_001}, "fare_fen"),
        ({"fare_fen": -200}, "fare_fen"),
        ({"tap": "exit"}, "tap"),
        ({"mode": "ferry"}, "mode"),
        ({"line_id": "Line 1"}, "line_id"),
        ({"medium_ref": "6217 0012 3456 7890"}, "medium_ref"),
        ({"transfer_discount": 1}, "transfer_discount"),
    ],
    ids=["fare-over-100-cny", "negative-fare", "tap-word", "mode", "line-space", "card-no", "int"],
)
def test_tap_field_out_of_contract_is_named(
    received_at: datetime, changes: dict[str, Any], field: str
) -> None:
    """Out-of-range or ill-typed tap fields are invalid_field with the field named."""
    with pytest.raises(Rejected) as info:
        decode(TAP_TOPIC, wire(example("transit_tap", **changes)), received_at=received_at)
    assert info.value.reason is RejectReason.INVALID_FIELD
    assert info.value.field == field


def test_tap_captured_offline_keeps_its_own_time(received_at: datetime) -> None:
    """An offline tap uploaded 20 minutes later is stored at its own time, flagged."""
    tapped = received_at - timedelta(minutes=20)
    payload = example("transit_tap", ts=format_ts(tapped), captured_offline=True)
    env = decode(TAP_TOPIC, wire(payload), received_at=received_at)
    assert env.ts == tapped
    assert isinstance(env.body, TransitTap)
    assert env.body.captured_offline is True


def test_transit_telemetry_decodes_and_defaults_queue(received_at: datetime) -> None:
    """Validator telemetry decodes; queued_taps defaults to 0 when left out."""
    payload = example("transit_telemetry")
    del payload["queued_taps"]
    env = decode(topic_for("transit", "telemetry"), wire(payload), received_at=received_at)
    assert isinstance(env.body, TransitTelemetry)
    assert env.body.queued_taps == 0
