"""``cityiot deadletter``'s bad input: one line naming the option, exit 2, before any server is
asked (no broker runs here: a command that got that far would fail otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["list", "--since", "yesterday"], "--since"),
        (["replay", "--until", "2026-13-40"], "--until"),
        (["replay", "--reason", "unknown_devices"], "--reason"),
        (["list", "--summary", "--reason", "bad_json", "--reason", "nope"], "--reason"),
    ],
    ids=["since-words", "until-bad-date", "reason-misspelt", "second-reason"],
)
def test_cli_deadletter_bad_option_is_one_line_exit_2(
    tmp_path: Path, argv: list[str], option: str
) -> None:
    """The error names the option and what it takes; no traceback."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "cityiot", "deadletter", *argv],
        # A port nothing listens on: reaching Kafka would be a bug of this check's order.
        env={
            **clean,
            "CITYIOT_RUN_DIR": str(tmp_path),
            "CITYIOT_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {option}: "), lines[0]
    assert "Traceback" not in result.stderr
