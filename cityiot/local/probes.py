"""Readiness probes: each asks a server a real question and returns only when it answered.

A listening socket is not readiness: Mosquitto must route a message, Kafka must serve metadata,
InfluxDB must answer ``/ping`` and hold the database.
"""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping

import paho.mqtt.client as mqtt
from confluent_kafka.admin import AdminClient
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from cityiot.access.influx_users import ensure_admin
from core.errors import CityiotError
from core.influx import InfluxError, InfluxTarget, quote_identifier

__all__ = ["ProbeFailed", "influxdb_ready", "kafka_ready", "mqtt_ready", "tcp_open"]


class ProbeFailed(CityiotError):
    """The server did not give the answer readiness needs (yet)."""


def tcp_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def mqtt_ready(
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 5.0,
    credentials: tuple[str, str] | None = None,
) -> None:
    """Publish a QoS 1 message to a unique topic and wait for it to come back."""
    topic = f"cityiot/probe/{uuid.uuid4().hex}"
    received = threading.Event()
    subscribed = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"cityiot-probe-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    if credentials is not None:
        client.username_pw_set(*credentials)
    client.on_subscribe = lambda *_args: subscribed.set()
    client.on_message = lambda _c, _u, msg: received.set() if msg.topic == topic else None
    try:
        client.connect(host, port, keepalive=10)
    except OSError as exc:
        raise ProbeFailed(f"MQTT connect failed: {exc}") from exc
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        if not subscribed.wait(timeout):
            raise ProbeFailed("MQTT subscribe was not acknowledged")
        client.publish(topic, b"ping", qos=1)
        if not received.wait(timeout):
            raise ProbeFailed("MQTT publish did not come back to the subscriber")
    finally:
        client.disconnect()
        client.loop_stop()


def kafka_ready(
    bootstrap: str, timeout: float = 5.0, security: Mapping[str, str] | None = None
) -> None:
    """Ask the broker for cluster metadata, as every Kafka client does first (as the admin,
    with ``security``, when the broker has authentication)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0, **(security or {})})
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception as exc:
        raise ProbeFailed(f"Kafka metadata request failed: {exc}") from exc
    if not metadata.brokers:
        raise ProbeFailed("Kafka metadata listed no broker")


def influxdb_ready(
    base_url: str, database: str, timeout: float = 5.0, admin: tuple[str, str] | None = None
) -> None:
    """``/ping`` must answer 204, then the database is created (idempotent on 1.x).

    ``admin`` (user, password), with auth-enabled: the admin is created first (InfluxDB takes
    that statement from anyone until an admin exists), then the database as the admin.
    """
    try:
        with urllib.request.urlopen(f"{base_url}/ping", timeout=timeout) as resp:  # noqa: S310
            if resp.status != 204:
                raise ProbeFailed(f"InfluxDB /ping answered {resp.status}")
    except (urllib.error.URLError, OSError) as exc:
        raise ProbeFailed(f"InfluxDB request failed: {exc}") from exc
    if admin is not None:
        target = InfluxTarget(base_url, database, username=admin[0], password=SecretStr(admin[1]))
        try:
            ensure_admin(target)
            target.execute(f"CREATE DATABASE {quote_identifier(database)}", timeout_s=timeout)
        except InfluxError as exc:  # the target masks its password in every message
            raise ProbeFailed(f"InfluxDB as {admin[0]!r}: {exc}") from None
        return
    try:
        query = urllib.parse.urlencode({"q": f'CREATE DATABASE "{database}"'}).encode()
        request = urllib.request.Request(f"{base_url}/query", data=query, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            body = resp.read().decode()
            if resp.status != 200 or '"error"' in body:
                raise ProbeFailed(f"InfluxDB could not create database {database!r}: {body}")
    except (urllib.error.URLError, OSError) as exc:
        raise ProbeFailed(f"InfluxDB request failed: {exc}") from exc
