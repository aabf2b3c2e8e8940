"""Bad input at the CLI: one line naming the variable or option, exit 2, no traceback, no secret."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
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
        ["alerts", "notify"],
        {
            "CITYIOT_ALERT_WEBHOOKS": '[{"name":"ops","secret":"s",'
            f'"url":"ftp://hooks.example/?access_token={SECRET}"}}]'
        },
        "CITYIOT_ALERT_WEBHOOKS",
        id="webhook-url-scheme",
    ),
    pytest.param(
        ["dashboards", "push", "--url", "ftp://grafana"],
        {},
        "CITYIOT_GRAFANA_URL",
        id="section-model-option",
    ),
    pytest.param(
        ["dashboards", "push"],
        {"CITYIOT_GRAFANA_ORG": "0", "CITYIOT_GRAFANA_TOKEN": SECRET},
        "CITYIOT_GRAFANA_ORG",
        id="grafana-org",
    ),
    pytest.param(
        ["dashboards", "push"],
        {"CITYIOT_GRAFANA_URL": f"http://admin:{SECRET}@grafana", "CITYIOT_GRAFANA_TOKEN": "t"},
        "CITYIOT_GRAFANA_TOKEN",
        id="grafana-two-credentials",
    ),
    pytest.param(
        ["dashboards", "snapshot", "out"],
        {"CITYIOT_INFLUXDB_URL": f"ftp://user:{SECRET}@influxdb"},
        "CITYIOT_INFLUXDB_URL",
        id="snapshot-influxdb-url",
    ),
    pytest.param(
        ["stream"],
        {"CITYIOT_STREAM_FETCH_MIN_BYTES": "-1"},
        "CITYIOT_STREAM_FETCH_MIN_BYTES",
        id="negative",
    ),
]
# A valid port that another socket holds: the value is fine, the start fails. The command has
# logged the settings it runs with by then (INFO lines); the error is still one line.
BUSY_PORT_CASES = [
    pytest.param(["collect"], "CITYIOT_COLLECTOR_METRICS_PORT", id="collector"),
    pytest.param(["stream"], "CITYIOT_STREAM_METRICS_PORT", id="stream"),
]
# What a long-running command logs at start, before it binds its port.
START_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ INFO cityiot\.settings settings\b")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something listens on for the test's duration (on every address, as a worker's
    metrics server would bind)."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(("argv", "env", "variable"), CASES)
def test_cli_bad_setting_is_one_line_exit_2(
    tmp_path: Path, argv: list[str], env: dict[str, str], variable: str
) -> None:
    """The error names the variable, says what is expected, and shows no value or traceback."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "cityiot", *argv],
        env={**clean, "CITYIOT_RUN_DIR": str(tmp_path), **env},
        cwd=tmp_path,  # a relative path in argv (an output folder) lands in the test's own
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


@pytest.mark.parametrize(("argv", "variable"), BUSY_PORT_CASES)
def test_cli_port_in_use_is_one_error_line_exit_2(
    tmp_path: Path, argv: list[str], variable: str, busy_port: int
) -> None:
    """A port in use: exit 2, one error line naming the port's variable and the fix, no
    traceback; before it, only the settings lines every start logs."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "cityiot", *argv],
        env={**clean, "CITYIOT_RUN_DIR": str(tmp_path), variable: str(busy_port)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    *start, error = result.stderr.strip().splitlines()
    assert error.startswith(f"error: {variable}: cannot listen on "), result.stderr
    assert f":{busy_port} (Address already in use); fix: " in error
    assert all(START_LINE.match(line) for line in start), result.stderr
    assert "Traceback" not in result.stderr


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


def test_cli_server_not_answering_is_one_line_exit_1(tmp_path: Path) -> None:
    """A Grafana that does not answer: one line naming the URL (password masked) and its
    variable, exit 1, no traceback."""
    with socket.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "cityiot", "dashboards", "push"],
        env={**clean, "CITYIOT_RUN_DIR": str(tmp_path),
             "CITYIOT_GRAFANA_URL": f"http://admin:{SECRET}@127.0.0.1:{port}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: Grafana at http://admin:**********@127.0.0.1:{port} ")
    assert "CITYIOT_GRAFANA_URL" in lines[0]
    assert SECRET not in result.stderr
