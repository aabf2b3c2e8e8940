"""Bad input at the CLI: one line naming the variable or option, exit 2, no traceback, no secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "tok3n-DO-NOT-ECHO"

CASES = [
    pytest.param(
        ["collect"],
        {"CITYIOT_COLLECTOR_MAX_IN_FLIGHT": "abc"},
        "CITYIOT_COLLECTOR_MAX_IN_FLIGHT",
        id="env-not-an-integer",
    ),
    pytest.param(
        ["collect", "--metrics-port", "99999"],
        {},
        "CITYIOT_COLLECTOR_METRICS_PORT",
        id="option-out-of-range",
    ),
    pytest.param(
        ["services", "status"],
        {"CITYIOT_MQTT_URL": f"ftp://user:{SECRET}@host"},
        "CITYIOT_MQTT_URL",
        id="url-scheme",
    ),
    pytest.param(
        ["alerts", "run"],
        {
            "CITYIOT_ALERT_WEBHOOKS": '[{"name":"x","format":"dingtalk","min_severity":"bogus",'
            f'"url":"https://oapi.dingtalk.com/robot/send?access_token={SECRET}"}}]'
        },
        "CITYIOT_ALERT_WEBHOOKS",
        id="webhook-list",
    ),
    pytest.param(
        ["dashboards", "push", "--url", "ftp://grafana"],
        {},
        "CITYIOT_GRAFANA_URL",
        id="section-model-option",
    ),
    pytest.param(
        ["stream"],
        {"CITYIOT_STREAM_FETCH_MIN_BYTES": "-1"},
        "CITYIOT_STREAM_FETCH_MIN_BYTES",
        id="negative",
    ),
]


@pytest.mark.parametrize(("argv", "env", "variable"), CASES)
def test_cli_bad_setting_is_one_line_exit_2(
    tmp_path: Path, argv: list[str], env: dict[str, str], variable: str
) -> None:
    """The error names the variable, says what is expected, and shows no value or traceback."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "cityiot", *argv],
        env={**clean, "CITYIOT_RUN_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {variable}")
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr


def test_cli_bad_option_value_is_one_usage_error(tmp_path: Path) -> None:
    """An option typer cannot take (a duration) names the option, exit 2, no traceback."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "cityiot", "dashboards", "snapshot", str(tmp_path), "--last", "x"],
        env={**clean, "CITYIOT_RUN_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "--last" in result.stderr
    assert "Traceback" not in result.stderr
