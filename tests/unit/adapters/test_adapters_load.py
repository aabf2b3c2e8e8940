"""Loading adapter files: every problem is one line naming the file, the rule and the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from adapters_testkit import RECYCLING_SPEC, SPEC, spec

from adapters import AdapterError, load_adapter, load_adapters, parse_adapter


def _header(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SPEC)
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return data


def _rule(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SPEC)
    data["messages"]["sale"].update(changes)
    return data


def _bins(**each: Any) -> dict[str, Any]:
    data = copy.deepcopy(RECYCLING_SPEC)
    data["messages"]["report"]["fields"]["bins"]["each"].update(each)
    return data


def _drop_category() -> dict[str, Any]:
    data = copy.deepcopy(RECYCLING_SPEC)
    del data["messages"]["report"]["fields"]["bins"]["each"]["category"]
    return data


# (id, data, rule, field, words of the problem)
CASES: list[tuple[str, Callable[[], Any], str | None, str | None, str]] = [
    ("not-a-mapping", lambda: ["adapter"], None, None, "must be a mapping"),
    ("missing-vendor", lambda: _header(vendor=None), None, None, "missing key(s) ['vendor']"),
    ("unknown-header-key", lambda: _header(vendors="tv"), None, None, "unknown key(s) ['vendors']"),
    ("bad-vendor", lambda: _header(vendor="TV"), None, "vendor", "does not match"),
    ("bad-name", lambda: _header(adapter="tv v1"), None, "adapter", "does not match"),
    ("bad-facility", lambda: _header(facility="kiosk"), None, "facility", "not one of"),
    ("no-rules", lambda: _header(messages={}), None, "messages", "no rules"),
    ("unknown-rule-key", lambda: _rule(qos=1), "sale", None, "unknown key(s) ['qos']"),
    (
        "channel-of-other-facility",
        lambda: _rule(channel="position"),
        "sale",
        "channel",
        "not a channel of vending",
    ),
    (
        "topic-outside-vendor",
        lambda: _rule(topic="vending/other/{device_id}/data"),
        "sale",
        "topic",
        "must start with 'vending/tv/'",
    ),
    (
        "topic-other-facility",
        lambda: _rule(topic="recycling/tv/{device_id}/data"),
        "sale",
        "topic",
        "must start with",
    ),
    ("topic-hash", lambda: _rule(topic="vending/tv/{device_id}/#"), "sale", "topic", "no #"),
    (
        "topic-empty-level",
        lambda: _rule(topic="vending/tv/{device_id}//x"),
        "sale",
        "topic",
        "no empty level",
    ),
    (
        "topic-no-device",
        lambda: _rule(topic="vending/tv/+/data"),
        "sale",
        "topic",
        "{device_id} exactly once",
    ),
    (
        "topic-two-devices",
        lambda: _rule(topic="vending/tv/{device_id}/{device_id}"),
        "sale",
        "topic",
        "exactly once",
    ),
    (
        "topic-platform-channel",
        lambda: _rule(topic="vending/tv/{device_id}/telemetry"),
        "sale",
        "topic",
        "keeps its channel",
    ),
    (
        "unknown-field",
        lambda: spec(price="yuan"),
        "sale",
        "price",
        "not a field of VendingSaleMessage",
    ),
    (
        "required-field-missing",
        lambda: spec(amount_fen=None),
        "sale",
        "amount_fen",
        "required by VendingSaleMessage",
    ),
    (
        "required-field-optional",
        lambda: spec(seq={"from": "n", "optional": True}),
        "sale",
        "seq",
        "not optional",
    ),
    (
        "unknown-conversion",
        lambda: spec(amount_fen={"from": "yuan", "convert": "yuan2fen"}),
        "sale",
        "amount_fen",
        "unknown conversion 'yuan2fen'",
    ),
    (
        "map-value-refused",
        lambda: spec(payment={"from": "pay", "map": {"WX": "wechatt"}}),
        "sale",
        "payment",
        "map value for 'WX' 'wechatt' is refused",
    ),
    (
        "otherwise-refused",
        lambda: spec(payment={"from": "pay", "map": {"WX": "wechat"}, "otherwise": "paypal"}),
        "sale",
        "payment",
        "otherwise 'paypal' is refused",
    ),
    (
        "otherwise-without-map",
        lambda: spec(slot={"from": "lane", "otherwise": "A1"}),
        "sale",
        "slot",
        "otherwise needs a map",
    ),
    (
        "const-refused",
        lambda: spec(category={"const": "juice"}),
        "sale",
        "category",
        "const 'juice' is refused",
    ),
    (
        "const-not-alone",
        lambda: spec(category={"const": "water", "optional": True}),
        "sale",
        "category",
        "const stands alone",
    ),
    (
        "default-refused",
        lambda: spec(quantity={"from": "item.qty", "default": 0}),
        "sale",
        "quantity",
        "default 0 is refused",
    ),
    ("bad-path", lambda: spec(sku="item..code"), "sale", "sku", "is not a path"),
    (
        "two-sources",
        lambda: spec(sku={"from": "a", "const": "x"}),
        "sale",
        "sku",
        "exactly one of from, const, expr",
    ),
    (
        "unsafe-expr",
        lambda: spec(quantity={"expr": "__import__('os')"}),
        "sale",
        "quantity",
        "expr:",
    ),
    (
        "unknown-field-key",
        lambda: spec(sku={"from": "a", "rename": "b"}),
        "sale",
        "sku",
        "unknown key(s) ['rename']",
    ),
    (
        "bad-round",
        lambda: spec(amount_fen={"from": "yuan", "round": 12}),
        "sale",
        "amount_fen",
        "round must be",
    ),
    (
        "optional-not-bool",
        lambda: spec(slot={"from": "lane", "optional": "yes"}),
        "sale",
        "slot",
        "optional must be true or false",
    ),
    (
        "each-on-scalar",
        lambda: spec(sku={"from": "item", "each": {"a": "b"}}),
        "sale",
        "sku",
        "each is for a list of objects",
    ),
    (
        "each-unknown-subfield",
        lambda: _bins(fill="fill"),
        "report",
        "bins[].fill",
        "not a field of BinLevel",
    ),
    (
        "each-required-subfield",
        _drop_category,
        "report",
        "bins[].category",
        "required by BinLevel",
    ),
]


@pytest.mark.parametrize(
    ("data", "rule", "field", "problem"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_parse_adapter_error_names_file_rule_field(
    data: Callable[[], Any], rule: str | None, field: str | None, problem: str
) -> None:
    """Each malformed adapter raises AdapterError at the right rule and field, saying what."""
    with pytest.raises(AdapterError) as info:
        parse_adapter(data(), path="adapters/tv.yaml")
    exc = info.value
    assert (exc.path, exc.rule, exc.field) == ("adapters/tv.yaml", rule, field)
    assert problem in exc.problem
    assert str(exc).startswith("adapters/tv.yaml: ")
    assert "\n" not in str(exc)


def test_parse_adapter_examples_compile() -> None:
    """The test fixtures themselves are valid adapters."""
    assert parse_adapter(spec()).source_format == "adapter:tv-v1"
    assert parse_adapter(RECYCLING_SPEC).messages[0].channel.value == "telemetry"


def test_load_adapter_yaml_error_names_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line."""
    path = tmp_path / "tv.yaml"
    path.write_text("adapter: tv-v1\nvendor: [tv\n")
    with pytest.raises(AdapterError, match=r"tv\.yaml: line 3: not valid YAML"):
        load_adapter(path)


def test_load_adapter_refuses_duplicate_keys(tmp_path: Path) -> None:
    """A field given twice is refused instead of the second silently winning."""
    path = tmp_path / "tv.yaml"
    path.write_text("adapter: tv-v1\nvendor: tv\nvendor: tv2\n")
    with pytest.raises(AdapterError, match=r"line 3: not valid YAML: duplicate key 'vendor'"):
        load_adapter(path)


def test_load_adapter_refuses_keys_python_confuses(tmp_path: Path) -> None:
    """A map with both 1 and true (one key to Python) is refused, not silently merged."""
    path = tmp_path / "tv.yaml"
    path.write_text(yaml_text(spec()).replace("1: cash", "1: cash\n          true: alipay"))
    with pytest.raises(AdapterError, match="duplicate key True"):
        load_adapter(path)


def test_load_adapters_missing_folder(tmp_path: Path) -> None:
    """A folder that does not exist is named."""
    with pytest.raises(AdapterError, match="not a folder of adapter files"):
        load_adapters(tmp_path / "nowhere")


def test_load_adapters_reads_yaml_files_only(tmp_path: Path) -> None:
    """*.yaml and *.yml are adapters; other files (a README, samples) are not read."""
    (tmp_path / "a.yaml").write_text(yaml_text(spec()))
    (tmp_path / "README.md").write_text("not an adapter")
    (tmp_path / "samples").mkdir()
    adapters = load_adapters(tmp_path)
    assert [a.name for a in adapters.adapters] == ["tv-v1"]


def test_load_adapters_refuses_same_name_twice(tmp_path: Path) -> None:
    """Two files with one adapter name would share a source_format: refused, naming both."""
    data = spec()
    (tmp_path / "a.yaml").write_text(yaml_text(data))
    data["messages"]["sale"]["topic"] = "vending/tv/{device_id}/other"
    (tmp_path / "b.yml").write_text(yaml_text(data))
    with pytest.raises(AdapterError, match=r"b\.yml: adapter name 'tv-v1' is also .*a\.yaml's"):
        load_adapters(tmp_path)


def test_load_adapters_refuses_overlapping_topics(tmp_path: Path) -> None:
    """Two rules one topic could match are refused, naming both rules and files."""
    (tmp_path / "a.yaml").write_text(yaml_text(spec()))
    data = spec()
    data["adapter"] = "tv-v2"
    data["messages"]["sale"]["topic"] = "vending/tv/+/{device_id}"
    (tmp_path / "b.yaml").write_text(yaml_text(data))
    with pytest.raises(AdapterError) as info:
        load_adapters(tmp_path)
    assert (info.value.rule, info.value.field) == ("sale", "topic")
    assert "overlaps 'vending/tv/{device_id}/data' (rule 'sale' of" in info.value.problem


def yaml_text(data: Any) -> str:
    return yaml.safe_dump(data)
