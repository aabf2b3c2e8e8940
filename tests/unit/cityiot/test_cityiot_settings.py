"""Settings: CITYIOT_* variables map onto sections; secrets stay secret."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from core.settings import Settings


def test_settings_env_maps_to_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    """CITYIOT_MQTT_URL is mqtt.url, CITYIOT_KAFKA_BOOTSTRAP_SERVERS is kafka.bootstrap_servers."""
    monkeypatch.setenv("CITYIOT_MQTT_URL", "mqtts://broker.example:8883")
    monkeypatch.setenv("CITYIOT_MQTT_TLS_CA_FILE", "/etc/cityiot/ca.pem")
    monkeypatch.setenv("CITYIOT_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("CITYIOT_INFLUXDB_DATABASE", "ningbo")
    monkeypatch.setenv("CITYIOT_RUN_DIR", "/var/lib/cityiot")
    settings = Settings()
    assert settings.mqtt.host == "broker.example"
    assert settings.mqtt.port == 8883
    assert settings.mqtt.tls is True
    assert str(settings.mqtt.tls_ca_file) == "/etc/cityiot/ca.pem"
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert settings.influxdb.database == "ningbo"
    assert str(settings.run_dir) == "/var/lib/cityiot"


def test_settings_defaults_point_at_local_servers() -> None:
    """With nothing set, every command talks to `cityiot services up` on the standard ports."""
    settings = Settings(_env_file=None)
    assert settings.mqtt.url == "mqtt://127.0.0.1:1883"
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.influxdb.url == "http://127.0.0.1:8086"
    assert settings.influxdb.database == "city"


def test_settings_secrets_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords and tokens are masked in str/repr and in JSON dumps."""
    monkeypatch.setenv("CITYIOT_MQTT_PASSWORD", "mqtt-pass-31337")
    monkeypatch.setenv("CITYIOT_INFLUXDB_TOKEN", "influx-token-31337")
    settings = Settings()
    for text in (str(settings), repr(settings), settings.model_dump_json()):
        assert "31337" not in text
    assert settings.influxdb.token is not None
    assert settings.influxdb.token.get_secret_value() == "influx-token-31337"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CITYIOT_MQTT_URL", "http://wrong-scheme:1883"),
        ("CITYIOT_KAFKA_BOOTSTRAP_SERVERS", "no-port"),
        ("CITYIOT_INFLUXDB_URL", "ftp://x"),
        ("CITYIOT_MQTT_NO_SUCH_FIELD", "1"),
    ],
    ids=["mqtt-scheme", "kafka-port", "influx-scheme", "misspelt"],
)
def test_settings_bad_value_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """A wrong or misspelt variable fails at startup, not mid-run."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_cli_help_shows_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--help` of every services command never shows a secret set in the environment."""
    env = {"CITYIOT_MQTT_PASSWORD": "help-secret-4242", "CITYIOT_INFLUXDB_TOKEN": "tok-4242"}
    for args in (["--help"], ["services", "up", "--help"], ["services", "status", "--help"]):
        out = subprocess.run(
            [sys.executable, "-m", "cityiot", *args],
            capture_output=True,
            text=True,
            env={**__import__("os").environ, **env},
            check=True,
        )
        assert "4242" not in out.stdout + out.stderr
        assert "Usage" in out.stdout
