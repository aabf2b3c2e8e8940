"""``cityiot alerts check``: lists good rules, refuses bad ones naming the fault."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cityiot.cli.alerts import app
from streams.alerts.rules import RulesError


def test_alerts_check_lists_shipped_rules() -> None:
    """The shipped file validates and every rule is listed."""
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "ok: 10 rules, 1 zones" in result.output


def test_alerts_check_bad_file_raises_rules_error(tmp_path: Path) -> None:
    """A bad file raises RulesError, which the main entry point prints as one line."""
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - id: x\n    type: absence\n    summary_zh: a\n    summary_en: a\n")
    result = CliRunner().invoke(app, ["check", str(path), "--no-zones"])
    assert isinstance(result.exception, RulesError)
    assert "rule 'x' (rules[0]) field 'kind': Field required" in str(result.exception)
