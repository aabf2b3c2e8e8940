"""The shipped example adapters pass their golden samples, and a wrong expectation is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adapters import load_adapter, load_adapters, run_samples

EXAMPLES = Path(__file__).resolve().parents[3] / "adapters" / "examples"
NAMES = ["acme-v2", "greenloop-v1"]


@pytest.mark.parametrize("name", NAMES)
def test_example_adapter_passes_its_samples(name: str) -> None:
    """Every golden native payload becomes exactly its expected envelope (or rejection)."""
    results = run_samples(load_adapter(EXAMPLES / f"{name}.yaml"), EXAMPLES / "samples" / name)
    assert [r for r in results if not r.passed] == []
    passed = [r.detail for r in results]
    # Each adapter is shown both ways: payloads it maps, and payloads it refuses.
    assert any(f"source_format=adapter:{name}" in d for d in passed)
    assert any(d.startswith("invalid_field: ") for d in passed)


def test_example_adapters_load_as_one_folder() -> None:
    """The examples folder works as CITYIOT_COLLECTOR_ADAPTERS_DIR (samples/ is not read)."""
    adapters = load_adapters(EXAMPLES)
    assert sorted(a.name for a in adapters.adapters) == NAMES


def test_example_samples_each_have_expectation() -> None:
    """No sample payload lacks its expected file, and no expected file lacks its payload."""
    for name in NAMES:
        folder = EXAMPLES / "samples" / name
        expected = {p.name.removesuffix(".expected.json") for p in folder.glob("*.expected.json")}
        payloads = {p.stem for p in folder.glob("*.json") if not p.name.endswith(".expected.json")}
        assert expected == payloads


def test_run_samples_names_each_difference(tmp_path: Path) -> None:
    """A sample whose envelope differs fails with the path, the expected and the got value."""
    samples = tmp_path / "samples"
    shutil.copytree(EXAMPLES / "samples" / "acme-v2", samples)
    expected_path = samples / "sale-wechat.expected.json"
    expected = json.loads(expected_path.read_text())
    expected["envelope"]["body"]["amount_fen"] = 351
    expected["envelope"]["source_format"] = "json"
    expected_path.write_text(json.dumps(expected))
    results = {r.name: r for r in run_samples(load_adapter(EXAMPLES / "acme-v2.yaml"), samples)}
    failed = results["sale-wechat"]
    assert not failed.passed
    assert failed.detail == (
        "body.amount_fen: expected 351, got 350; "
        "source_format: expected 'json', got 'adapter:acme-v2'"
    )
    assert all(r.passed for name, r in results.items() if name != "sale-wechat")


def test_run_samples_expected_rejection_that_maps_fails(tmp_path: Path) -> None:
    """A payload expected to be refused that maps fine is a failure, and vice versa."""
    samples = tmp_path / "samples"
    shutil.copytree(EXAMPLES / "samples" / "acme-v2", samples)
    shutil.copy(samples / "sale-wechat.json", samples / "bad-payment-code.json")
    shutil.copy(samples / "bad-quantity.json", samples / "state.json")
    results = {r.name: r for r in run_samples(load_adapter(EXAMPLES / "acme-v2.yaml"), samples)}
    assert results["bad-payment-code"].detail.startswith("expected a rejection")
    assert results["state"].detail.startswith("rejected: invalid_field: env.temp")
    assert not results["bad-payment-code"].passed
    assert not results["state"].passed
