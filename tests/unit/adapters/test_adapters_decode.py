"""Adapters at run time: which topics they take, and native payload → Envelope or Rejected."""

from __future__ import annotations

import json
from typing import Any

import pytest
from adapters_testkit import (
    RECEIVED_AT,
    RECYCLING_SPEC,
    REPORT_TOPIC,
    SALE_TOPIC,
    T,
    adapter_set,
    sale,
    sale_adapter,
)

from adapters import AdapterSet, Match, decode_adapted, parse_adapter
from schemas import Envelope, RecyclingTelemetry, Rejected, RejectReason, VendingSale


def _match(topic: str = SALE_TOPIC, adapters: AdapterSet | None = None) -> Match:
    match = (adapters or adapter_set()).match(topic)
    assert match is not None
    return match


def _decode(native: Any, topic: str = SALE_TOPIC, adapters: AdapterSet | None = None) -> Envelope:
    payload = native if isinstance(native, bytes) else json.dumps(native).encode()
    return decode_adapted(_match(topic, adapters), payload, received_at=RECEIVED_AT)


def _rejected(native: Any, topic: str = SALE_TOPIC, adapters: AdapterSet | None = None) -> Rejected:
    with pytest.raises(Rejected) as info:
        _decode(native, topic, adapters)
    return info.value


def _bins_adapters() -> AdapterSet:
    return AdapterSet([parse_adapter(RECYCLING_SPEC, path="bins.yaml")])


def test_decode_adapted_sale_becomes_platform_envelope() -> None:
    """Renames, nested paths, conversions, constants and maps make a platform sale."""
    env = _decode(sale())
    assert (env.device_id, env.vendor, env.facility.value, env.channel.value) == (
        "VM-1",
        "tv",
        "vending",
        "event",
    )
    assert env.source_format == "adapter:tv-v1"
    assert env.ts_ms == T * 1000
    assert (env.seq, env.v, env.enrichment) == (7, None, None)
    assert env.body == VendingSale(
        txn_id="42",
        sku="6901939621608",
        category="water",
        quantity=2,
        amount_fen=350,
        payment="wechat",
        outcome="success",
        slot="A3",
    )
    # What the collector writes to Kafka reads back as the same envelope.
    assert Envelope.model_validate_json(env.model_dump_json()) == env


@pytest.mark.parametrize(
    ("pay", "payment"),
    [("WX", "wechat"), (1, "cash"), (False, "ecny"), (True, None), (0, None)],
    ids=["text", "number", "boolean", "true-is-not-1", "0-is-not-false"],
)
def test_decode_adapted_enum_map_keeps_types_apart(pay: Any, payment: str | None) -> None:
    """Map keys match by JSON type too: true is not 1 and 0 is not false (equal in Python)."""
    if payment is None:
        assert _rejected(sale(pay=pay)).field == "pay"
        return
    assert isinstance(body := _decode(sale(pay=pay)).body, VendingSale)
    assert body.payment == payment


def test_decode_adapted_null_and_absent_take_default_or_are_left_out() -> None:
    """JSON null counts as absent: a default fills it, an optional field is left out."""
    native = sale(lane=None)
    native["item"] = {"code": "6901939621608", "qty": None}
    body = _decode(native).body
    assert isinstance(body, VendingSale)
    assert (body.quantity, body.slot) == (1, None)


@pytest.mark.parametrize(
    ("native", "reason", "field", "words"),
    [
        (sale(yuan=None), "invalid_field", "yuan", "amount_fen: required, and absent"),
        (sale(pay="PAYPAL"), "invalid_field", "pay", "'PAYPAL' is not in the rule's map"),
        (sale(yuan=3.505), "invalid_field", "yuan", "not a whole number of fen"),
        (sale(t="yesterday"), "invalid_field", "t", "ts: epoch_s_to_ms: expected epoch seconds"),
        (sale(item={"code": "x y", "qty": 1}), "invalid_field", "item.code", "sku: String should"),
        (sale(item={"code": "c", "qty": 100}), "invalid_field", "item.qty", "quantity: Input"),
        (sale(t=T - 30 * 86_400), "stale_timestamp", "t", "ts: "),
        (sale(n=-1), "invalid_field", "n", "seq: Input should be greater"),
    ],
    ids=[
        "absent",
        "not-in-map",
        "conversion",
        "conversion-type",
        "refused-after-mapping",
        "out-of-range",
        "stale",
        "negative-seq",
    ],
)
def test_decode_adapted_rejects_naming_native_field(
    native: dict[str, Any], reason: str, field: str, words: str
) -> None:
    """A payload that cannot be mapped, or maps to an invalid message, names the native path."""
    exc = _rejected(native)
    assert (exc.reason.value, exc.field) == (reason, field)
    assert words in exc.detail
    assert "adapter 'tv-v1' rule 'sale'" in exc.detail


def test_decode_adapted_expression_over_paths_names_platform_field() -> None:
    """A field computed from several paths has no one native path: the platform's is named."""
    adapters = adapter_set(sale_adapter(quantity={"expr": "item.qty - lots"}))
    exc = _rejected(sale(lots=2), adapters=adapters)  # 2 - 2 = 0, below quantity's minimum
    assert (exc.reason, exc.field) == (RejectReason.INVALID_FIELD, "quantity")
    assert exc.detail.startswith("Input should be greater than or equal to 1 (after adapter")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe{}", RejectReason.BAD_ENCODING),
        (b'{"t": ', RejectReason.BAD_JSON),
        (b"[1, 2]", RejectReason.BAD_JSON),
        (b'{"t": NaN}', RejectReason.BAD_JSON),
        (b"[" * 5000 + b"]" * 5000, RejectReason.BAD_JSON),
    ],
    ids=["not-utf8", "truncated", "array", "nan", "deep"],
)
def test_decode_adapted_rejects_unparseable_native(payload: bytes, reason: RejectReason) -> None:
    """Bytes that are not a JSON object are refused with the platform's own reasons."""
    assert _rejected(payload).reason is reason


def test_decode_adapted_maps_each_list_element() -> None:
    """each maps every element of a nested array with its own rules; °F becomes °C."""
    native = {
        "time": T,
        "sn": 3,
        "tempF": 75.2,
        "smoke": 0,
        "bins": [{"kind": 1, "fill": 0.5}, {"kind": 2, "fill": 0.25}],
    }
    env = _decode(native, REPORT_TOPIC, _bins_adapters())
    assert isinstance(env.body, RecyclingTelemetry)
    assert env.body.temperature_c == 24.0
    assert env.body.smoke_alarm is False
    assert [(b.category, b.filling_level_pct) for b in env.body.bins] == [
        ("recyclable", 50.0),
        ("kitchen", 25.0),
    ]
    assert env.ts_ms == T * 1000


@pytest.mark.parametrize(
    ("bins", "field", "words"),
    [
        ([{"kind": 1, "fill": 0.5}, {"kind": 9, "fill": 0.5}], "bins[1].kind", "bins[1].category"),
        ([{"kind": 1}], "bins[0].fill", "bins[0].filling_level_pct: absent"),
        ([{"kind": 1, "fill": 1.5}], "bins[0].fill", "bins[0].filling_level_pct: Input should"),
        ({"kind": 1}, "bins", "expected an array"),
    ],
    ids=["not-in-map", "absent", "out-of-range", "not-an-array"],
)
def test_decode_adapted_each_error_names_element(bins: Any, field: str, words: str) -> None:
    """An element that cannot be mapped (or is refused after mapping) is named with its index."""
    native = {"time": T, "sn": 3, "tempF": 75.2, "smoke": 0, "bins": bins}
    exc = _rejected(native, REPORT_TOPIC, _bins_adapters())
    assert (exc.reason, exc.field) == (RejectReason.INVALID_FIELD, field)
    assert words in exc.detail


@pytest.mark.parametrize(
    "topic",
    [
        "city/vending/other/VM-1/data",  # another vendor: no adapter
        "city/vending/tv/VM-1/status",  # the vendor's platform JSON topics pass through
        "city/vending/tv/VM-1/data/extra",  # one level too many
        "other/vending/tv/VM-1/data",  # another prefix
        "city/recycling/tv/VM-1/data",  # the rule's facility level is a literal
        "city",
    ],
)
def test_adapter_set_match_leaves_other_topics(topic: str) -> None:
    """Topics no rule names are the platform's own (None: parse_topic decides)."""
    assert adapter_set().match(topic) is None


def test_adapter_set_match_gives_platform_topic() -> None:
    """A matching topic stands for the platform topic of its rule, with its device id."""
    match = _match()
    assert str(match.topic) == "city/vending/tv/VM-1/event"
    assert (match.rule.name, match.source_format) == ("sale", "adapter:tv-v1")


def test_adapter_set_match_honours_prefix() -> None:
    """Patterns are written below the prefix, so one file serves any prefix."""
    adapters = adapter_set(sale_adapter(), prefix="staging")
    assert adapters.match("staging/vending/tv/VM-1/data") is not None
    assert adapters.match(SALE_TOPIC) is None


def test_adapter_set_match_bad_device_id_is_bad_topic() -> None:
    """The device id level must be a platform device id, or the topic is a bad_topic."""
    with pytest.raises(Rejected) as info:
        adapter_set().match("city/vending/tv/VM 1!/data")
    assert info.value.reason is RejectReason.BAD_TOPIC
