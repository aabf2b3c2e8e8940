"""``cityiot adapters test``: pass/fail per sample, exit 1 on a failure, 2 on an unusable file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from cityiot.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[3] / "adapters" / "examples"
ACME = EXAMPLES / "acme-v2.yaml"
ACME_SAMPLES = EXAMPLES / "samples" / "acme-v2"


def _run(*args: str | Path) -> tuple[int, list[str], list[str]]:
    result = CliRunner().invoke(app, ["adapters", "test", *map(str, args)])
    return result.exit_code, result.stdout.splitlines(), result.stderr.splitlines()


def test_cli_adapters_test_passes_examples() -> None:
    """Every sample of the example prints a pass line, then a count; exit 0."""
    code, out, err = _run(ACME, "--samples", ACME_SAMPLES)
    assert (code, err) == (0, [])
    samples = sorted(p.stem for p in ACME_SAMPLES.glob("*.json") if ".expected" not in p.name)
    assert [line.split(":")[0] for line in out[:-1]] == [f"pass  {name}" for name in samples]
    assert out[-1] == f"adapter:acme-v2: {len(samples)} passed, 0 failed"


def test_cli_adapters_test_failure_exits_1(tmp_path: Path) -> None:
    """A sample whose envelope differs prints FAIL with the difference; exit 1."""
    shutil.copytree(ACME_SAMPLES, tmp_path / "s")
    expected = tmp_path / "s" / "state.expected.json"
    data = json.loads(expected.read_text())
    data["envelope"]["body"]["door_open"] = True
    expected.write_text(json.dumps(data))
    code, out, _err = _run(ACME, "--samples", tmp_path / "s")
    assert code == 1
    assert "FAIL  state: body.door_open: expected True, got False" in out
    assert out[-1].endswith("passed, 1 failed")


def test_cli_adapters_test_bad_file_exits_2_naming_file_rule_field(tmp_path: Path) -> None:
    """An unusable adapter file is one error line naming file, rule and field; exit 2."""
    bad = tmp_path / "acme.yaml"
    bad.write_text(ACME.read_text().replace("convert: yuan_to_fen", "convert: yuan2fen"))
    code, out, err = _run(bad, "--samples", ACME_SAMPLES)
    assert (code, out) == (2, [])
    assert err == [
        f"error: {bad}: rule 'sale': field 'amount_fen': unknown conversion 'yuan2fen'; known: "
        "epoch_ms_to_rfc3339, epoch_s_to_ms, epoch_s_to_rfc3339, fahrenheit_to_celsius, to_bool, "
        "to_float, to_int, to_str, yuan_to_fen"
    ]


def test_cli_adapters_test_without_samples_exits_2(tmp_path: Path) -> None:
    """A samples folder with nothing to test is not a pass: exit 2."""
    code, _out, err = _run(ACME, "--samples", tmp_path)
    assert code == 2
    assert err == [f"error: {tmp_path}: no samples (NAME.json beside NAME.expected.json)"]
