"""Kafka and InfluxDB credentials in the settings: SASL checked at start, secrets from *_FILE
files, one client config for librdkafka and aiokafka, and no secret in an error."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import KafkaSettings, Settings

PASSWORD = "s3cr3t-kafka-pw"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secret"
    path.write_text(text)
    return path


def test_kafka_security_plaintext_adds_nothing() -> None:
    """The local default: no security properties, so every client config is as before."""
    kafka = KafkaSettings()
    assert kafka.security_protocol == "PLAINTEXT"
    assert kafka.librdkafka_security() == {}
    assert kafka.aiokafka_security() == {}
    assert kafka.ssl_context() is None


def test_kafka_security_sasl_maps_to_both_clients() -> None:
    """SASL_PLAINTEXT with SCRAM-SHA-512: librdkafka's properties and aiokafka's arguments."""
    kafka = KafkaSettings(
        security_protocol="SASL_PLAINTEXT", username="cityiot-collector", password=PASSWORD
    )
    assert kafka.librdkafka_security() == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "cityiot-collector",
        "sasl.password": PASSWORD,
    }
    assert kafka.aiokafka_security() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "cityiot-collector",
        "sasl_plain_password": PASSWORD,
        "ssl_context": None,
    }


def test_kafka_security_sasl_ssl_uses_the_ca_file(tmp_path: Path) -> None:
    """SASL_SSL: the CA file goes to librdkafka, and aiokafka gets a verifying TLS context."""
    kafka = KafkaSettings(
        security_protocol="SASL_SSL",
        username="u",
        password=PASSWORD,
        ssl_ca_file=tmp_path / "ca.pem",
    )
    assert kafka.librdkafka_security()["ssl.ca.location"] == str(tmp_path / "ca.pem")
    context = KafkaSettings(security_protocol="SASL_SSL", username="u", password="p").ssl_context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"security_protocol": "SASL_PLAINTEXT", "password": PASSWORD},
            "needs CITYIOT_KAFKA_USERNAME",
        ),
        (
            {"security_protocol": "SASL_SSL", "username": "u"},
            "CITYIOT_KAFKA_PASSWORD_FILE",
        ),
        (
            {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "PLAIN",
                "username": "u",
                "password": PASSWORD,
            },
            "SASL_SSL only",
        ),
        ({"security_protocol": "SSL", "password": PASSWORD}, "security_protocol"),
    ],
    ids=["no-user", "no-password", "plain-in-clear", "unknown-protocol"],
)
def test_kafka_security_refused_at_start_without_echoing(
    values: dict[str, str], expected: str
) -> None:
    """A SASL setting that cannot work fails when the settings are built; the password given
    is never part of the error."""
    with pytest.raises(ValidationError) as caught:
        Settings(kafka=values)
    assert expected in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_secret_file_replaces_the_variable(tmp_path: Path) -> None:
    """*_FILE is read at start, surrounding whitespace dropped, and wins over the variable."""
    path = _file(tmp_path, f"  {PASSWORD}\n")
    settings = Settings(
        kafka={
            "security_protocol": "SASL_PLAINTEXT",
            "username": "u",
            "password": "from-env",
            "password_file": path,
        },
        influxdb={"username": "w", "password_file": path, "token_file": path},
    )
    assert settings.kafka.password is not None
    assert settings.kafka.password.get_secret_value() == PASSWORD
    assert settings.influxdb.password is not None
    assert settings.influxdb.password.get_secret_value() == PASSWORD
    assert settings.influxdb.token is not None
    assert settings.influxdb.token.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(settings)


def test_secret_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CITYIOT_KAFKA_PASSWORD_FILE is the variable a mounted Secret is named by."""
    monkeypatch.setenv("CITYIOT_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("CITYIOT_KAFKA_USERNAME", "cityiot-streams")
    monkeypatch.setenv("CITYIOT_KAFKA_PASSWORD_FILE", str(_file(tmp_path, PASSWORD)))
    security = Settings().kafka.librdkafka_security()
    assert security["sasl.username"] == "cityiot-streams"
    assert security["sasl.password"] == PASSWORD


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "cannot read"), ("\n", "is empty"), (b"\xff\xfe", "not UTF-8")],
    ids=["missing", "empty", "binary"],
)
def test_secret_file_unusable_names_the_variable(
    tmp_path: Path, content: str | bytes | None, expected: str
) -> None:
    """A missing, empty or binary file fails at start naming the variable and the path."""
    path = tmp_path / "secret"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ValidationError) as caught:
        Settings(influxdb={"password_file": path})
    message = str(caught.value)
    assert "CITYIOT_INFLUXDB_PASSWORD_FILE" in message
    assert str(path) in message
    assert expected in message
