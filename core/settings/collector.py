"""Collector settings (``CITYIOT_COLLECTOR_*``), a section of :class:`core.settings.Settings`.

Each field's description gives its unit and purpose; the comments say why its default is what it is.
docs/configuration.md lists them all, generated from here (core/settings/reference.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.types import MAX_PAYLOAD_BYTES

__all__ = ["CollectorSettings", "UnknownDevicePolicy"]

UnknownDevicePolicy = Literal["deadletter", "accept"]


class CollectorSettings(BaseModel):
    """How a collector takes device messages from MQTT and hands them to Kafka."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    group: str = Field("collectors", description="MQTT shared-subscription group of all replicas.")
    client_id: str = Field(
        "cityiot-collector-1",
        description="Stable MQTT client id of this replica (its persistent session follows it); "
        "also the collector id written into dead letters.",
    )
    # A message waits for Kafka's acknowledgement ~linger_ms plus a round trip (~0.15 s with the
    # defaults): 10,000 unacked messages allow ~60,000 msg/s, above what one collector takes
    # (~26,000), while bounding memory to ~10,000 payloads (a few MB). Sent as MQTT 5 Receive
    # Maximum, so the broker itself stops sending when the collector is this far behind (65,535
    # is the protocol's ceiling).
    max_in_flight: int = Field(
        10_000,
        ge=1,
        le=65_535,
        description="Messages received but not yet acked (waiting for Kafka), at most; count. "
        "Beyond it the collector stops taking messages and the broker holds them.",
    )
    # An hour covers a node reboot or a rolling deploy; a replica gone longer than this loses the
    # messages queued for its session, so keep it above your longest planned outage.
    session_expiry_s: int = Field(
        3600,
        ge=0,
        description="How long the broker keeps this replica's session and queued messages while "
        "it is disconnected; seconds (MQTT 5 Session Expiry Interval).",
    )
    # 30 s is paho's and Telegraf's usual value: a dead connection is noticed within 45 s.
    keepalive_s: int = Field(30, ge=5, description="MQTT keepalive interval; seconds.")
    # paho's backoff doubles from min to max; 30 s caps the wait after a broker comes back.
    reconnect_min_delay_s: int = Field(
        1, ge=1, description="First wait before reconnecting to MQTT; seconds (then doubles)."
    )
    reconnect_max_delay_s: int = Field(
        30, ge=1, description="Longest wait between MQTT reconnect attempts; seconds."
    )
    max_payload_bytes: int = Field(
        MAX_PAYLOAD_BYTES,
        ge=1,
        description="Largest payload parsed; bytes. Larger ones are dead-lettered as too_large "
        "before any parsing.",
    )
    # Mosquitto accepts packets up to its max_packet_size (1 MiB locally); base64 of that would
    # exceed Kafka's default 1 MB record limit and wedge the producer. Larger payloads keep
    # their first bytes and are flagged payload_truncated.
    deadletter_payload_limit_bytes: int = Field(
        262_144,
        ge=0,
        description="Raw payload bytes kept in a dead letter; bytes. Beyond it the dead letter "
        "keeps the first bytes and says payload_truncated.",
    )
    # Devices report every few seconds, but flush a backlog after a dead zone: the burst lets a
    # few minutes of buffered messages through at once, the rate stops a stuck firmware loop.
    rate_limit_per_s: float = Field(
        20.0,
        ge=0,
        description="Sustained messages per second allowed per device (token bucket refill); "
        "0 turns the limit off. Excess is dead-lettered as rate_limited.",
    )
    rate_limit_burst: int = Field(
        600, ge=1, description="Messages a device may send at once (token bucket size); count."
    )
    # Ningbo's largest vendors run ~30,000 bikes at one message per 30 s (~1,000 msg/s) and a
    # replica takes ~26,000 msg/s: 10,000 per vendor leaves most of a replica to the others
    # whatever one vendor does, and is ten times what the largest sends. The burst covers a
    # fleet flushing a few minutes of backlog after a broker restart.
    vendor_rate_limit_per_s: float = Field(
        10_000.0,
        ge=0,
        description="Sustained messages per second allowed per vendor at each collector replica "
        "(the vendor is the topic's, which the broker's ACL pins to its MQTT user); 0 turns "
        "the quota off. Excess is dead-lettered as rate_limited, naming the vendor.",
    )
    vendor_rate_limit_burst: int = Field(
        100_000, ge=1, description="Messages a vendor may send at once per replica; count."
    )
    vendor_rate_limits: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Per-vendor quotas overriding vendor_rate_limit_per_s, as JSON, e.g. "
        '{"hellobike": 20000}; msg/s per replica, 0 = unlimited. The burst scales with the rate.',
    )
    unknown_devices: UnknownDevicePolicy = Field(
        "deadletter",
        description="What to do with a device missing from the registry: 'deadletter' "
        "(reason unknown_device) or 'accept' (forwarded without registry enrichment).",
    )
    # None by default: every vendor speaks the platform's JSON unless the operators load an
    # adapter for it (adapters/README.md); a bad file stops the start, naming file, rule, field.
    adapters_dir: Path | None = Field(
        None,
        description="Folder of payload adapter files (*.yaml): vendors' own JSON mapped onto "
        "the platform's messages on the topics each adapter names; none = no adapters.",
    )
    # Kafka's cost follows requests, not records: at 1,000 msg/s a 5 ms linger made ~200 produce
    # requests a second, each a few hundred µs of broker CPU; 100 ms makes ten, and costs 0.1 s
    # of the 2 s end-to-end budget (max_in_flight covers the messages waiting meanwhile).
    linger_ms: int = Field(
        100,
        ge=0,
        description="How long the Kafka producer waits to fill a batch; milliseconds. Higher: "
        "fewer, larger requests (less CPU in the collector and Kafka), later acks.",
    )
    # Off only for a Kafka-compatible broker without InitProducerId (aiokafka-style idempotence
    # fails there); Apache Kafka and Tansu support it.
    idempotent_producer: bool = Field(
        True, description="Kafka idempotent producer (acks=all either way)."
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65_535,
        description="Port of the HTTP endpoints: Prometheus /metrics, /healthz (liveness) and "
        "/readyz (readiness: MQTT and Kafka connected); 0 turns them off.",
    )
    # Loopback by default: exposing metrics is a deployment decision (0.0.0.0 in a container,
    # where the kubelet probes the pod's address).
    metrics_host: str = Field(
        "127.0.0.1", description="Address the metrics, /healthz and /readyz endpoint binds to."
    )
    # A turn takes at most ~10 s (an MQTT connect attempt's timeout) and a start attempt while
    # Kafka is away at most 35 s (a 5 s topic listing, then up to 30 s of back-off): 60 s flags
    # only a loop that is really stuck.
    liveness_timeout_s: float = Field(
        60.0,
        gt=0,
        description="How long the collector's loop may go without a turn before /healthz answers "
        "503 (a liveness probe then restarts the process); seconds.",
    )
    summary_interval_s: float = Field(
        60.0, ge=0, description="Period of the one-line summary in the log; seconds, 0 = off."
    )
    # Kafka answers within the linger and a round trip when it is up; when it is gone, waiting
    # longer gains nothing (what is unacked comes back from the broker), and SIGTERM must end
    # the process within `docker stop`'s 10 s.
    shutdown_timeout_s: float = Field(
        5.0,
        gt=0,
        description="On stop, how long to wait for Kafka to acknowledge what is in flight; "
        "seconds. What is left unacked is redelivered by the broker later.",
    )

    @model_validator(mode="after")
    def _check(self) -> CollectorSettings:
        if self.reconnect_max_delay_s < self.reconnect_min_delay_s:
            raise ValueError("reconnect_max_delay_s must be >= reconnect_min_delay_s")
        return self
