"""TLS from `cityiot certs` against the real Mosquitto: trusted clients round-trip, others fail.

One Mosquitto, started here on free loopback ports, with four TLS listeners using the certificates
``write_cert_dir`` wrote: server authentication only; ``require_certificate true``; mutual TLS
with the certificate's common name as the username under the ACL that ``cityiot acl`` renders; and
the device listener, where a device certificate's common name is a device id under
``devices.acl``.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from tests_support import eventually

from cityiot.access.acl import COLLECTOR_USER, render_acl, render_device_acl, write_auth_dir
from cityiot.access.certs import CertFiles, write_cert_dir
from cityiot.local.ports import free_port

pytestmark = pytest.mark.integration

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
# Enough for a TLS handshake plus CONNACK on a loaded CI machine; a refusal arrives well before.
CONNECT_TIMEOUT = 5.0
# How long to wait for a message that must NOT arrive (an ACL drop gives no error to wait for).
SILENCE = 0.5
VENDOR = "dabashou"
OTHER_VENDOR = "hangxin-vending"
DEVICE, OTHER_DEVICE = "RS-330212-0007", "RS-330212-0008"
COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose"


@dataclass(frozen=True)
class Broker:
    """The running Mosquitto's three TLS ports and the certificates it serves."""

    server_auth_port: int
    mutual_port: int
    identity_port: int
    device_port: int
    certs: CertFiles
    foreign: CertFiles


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited {proc.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    eventually(
        listening, what=f"mosquitto listening on {port} (log {log})", timeout=CONNECT_TIMEOUT
    )


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Mosquitto with TLS listeners from `cityiot certs` files; terminated after the module."""
    base = tmp_path_factory.mktemp("tls")
    certs = write_cert_dir(
        base / "certs",
        clients=[COLLECTOR_USER, VENDOR, OTHER_VENDOR],
        devices=[DEVICE, OTHER_DEVICE],
        key_type="ec",
    )
    foreign = write_cert_dir(base / "foreign", clients=[VENDOR], devices=[DEVICE])
    acl = base / "mosquitto.acl"
    acl.write_text(render_acl())
    device_acl = base / "devices.acl"
    device_acl.write_text(render_device_acl())
    ports = (free_port(), free_port(), free_port(), free_port())
    tls = [
        f"cafile {certs.ca_cert}",
        f"certfile {certs.server_cert}",
        f"keyfile {certs.server_key}",
    ]
    conf = base / "mosquitto.conf"
    log = base / "mosquitto.log"
    conf.write_text(
        "\n".join(
            [
                # Root in CI: keep the broker root so it reads the 0600 keys it was given.
                "user root",
                "per_listener_settings true",
                f"log_dest file {log}",
                f"listener {ports[0]} 127.0.0.1",
                *tls,
                "allow_anonymous true",
                f"listener {ports[1]} 127.0.0.1",
                *tls,
                "require_certificate true",
                "allow_anonymous true",
                f"listener {ports[2]} 127.0.0.1",
                *tls,
                "require_certificate true",
                "use_identity_as_username true",
                "allow_anonymous false",
                f"acl_file {acl}",
                f"listener {ports[3]} 127.0.0.1",
                *tls,
                "require_certificate true",
                "use_identity_as_username true",
                "allow_anonymous false",
                f"acl_file {device_acl}",
                "",
            ]
        )
    )
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stderr=subprocess.STDOUT)
    try:
        for port in ports:
            _wait_listening(port, proc, log)
        yield Broker(*ports, certs=certs, foreign=foreign)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class _Session:
    """A connected paho client that records CONNACK and messages; ``close()`` stops it."""

    def __init__(
        self,
        port: int,
        *,
        ca: Path | None,
        cert: tuple[Path, Path] | None = None,
        host: str = "127.0.0.1",
        login: tuple[str, str] | None = None,
    ) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.connected = False
        self.error: BaseException | None = None
        self._connack = threading.Event()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"tls-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if ca is not None:
            self.client.tls_set(
                ca_certs=str(ca),
                certfile=str(cert[0]) if cert else None,
                keyfile=str(cert[1]) if cert else None,
            )
        if login is not None:
            self.client.username_pw_set(*login)
        self.client.on_connect = self._on_connect
        # A refused client certificate (TLS 1.3: after the handshake) or a plain client on the TLS
        # port ends as a closed socket, not a CONNACK: stop waiting then.
        self.client.on_disconnect = lambda *_args: self._connack.set()
        self.client.on_connect_fail = lambda *_args: self._connack.set()
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_message = lambda _c, _u, msg: self.messages.append(
            (msg.topic, bytes(msg.payload))
        )
        try:
            self.client.connect(host, port)
        except (ssl.SSLError, OSError) as exc:  # handshake refused before MQTT starts
            self.error = exc
            return
        self.client.loop_start()
        self._connack.wait(CONNECT_TIMEOUT)

    def _on_connect(self, *args: object) -> None:
        reason = args[3]
        self.connected = not getattr(reason, "is_failure", True)
        self._connack.set()

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(CONNECT_TIMEOUT), "no SUBACK"

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(CONNECT_TIMEOUT)

    def wait_for(self, count: int) -> list[tuple[str, bytes]]:
        eventually(
            lambda: len(self.messages) >= count,
            what=f"{count} message(s) received",
            timeout=CONNECT_TIMEOUT,
        )
        return list(self.messages)

    def close(self) -> None:
        if self.error is None:
            self.client.disconnect()
            self.client.loop_stop()


def _round_trip(session: _Session) -> list[tuple[str, bytes]]:
    topic = f"cityiot/tls/{uuid.uuid4().hex}"
    session.subscribe(topic)
    session.publish(topic, b"hello over tls")
    return session.wait_for(1)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_tls_trusted_ca_round_trip(broker: Broker, host: str) -> None:
    """A client trusting ca.crt verifies the server (by IP or name) and gets its message back."""
    session = _Session(broker.server_auth_port, ca=broker.certs.ca_cert, host=host)
    try:
        assert session.error is None
        assert session.connected
        assert _round_trip(session)[0][1] == b"hello over tls"
    finally:
        session.close()


def test_tls_untrusted_ca_refused(broker: Broker) -> None:
    """A client that trusts another CA aborts the handshake: certificate verify failed."""
    session = _Session(broker.server_auth_port, ca=broker.foreign.ca_cert)
    session.close()
    assert isinstance(session.error, ssl.SSLCertVerificationError)
    assert not session.connected


def test_tls_plain_mqtt_on_tls_port_refused(broker: Broker) -> None:
    """Plain MQTT to the TLS listener never gets a CONNACK."""
    session = _Session(broker.server_auth_port, ca=None)
    session.close()
    assert not session.connected


def test_tls_mutual_client_cert_round_trip(broker: Broker) -> None:
    """With require_certificate, a client certificate from the CA connects and round-trips."""
    session = _Session(
        broker.mutual_port, ca=broker.certs.ca_cert, cert=broker.certs.clients[COLLECTOR_USER]
    )
    try:
        assert session.error is None
        assert session.connected
        assert _round_trip(session)[0][1] == b"hello over tls"
    finally:
        session.close()


@pytest.mark.parametrize("which", ["none", "foreign"])
def test_tls_mutual_without_valid_client_cert_refused(broker: Broker, which: str) -> None:
    """With require_certificate, no client certificate or one from another CA gets no session."""
    cert = None if which == "none" else broker.foreign.clients[VENDOR]
    session = _Session(broker.mutual_port, ca=broker.certs.ca_cert, cert=cert)
    session.close()
    assert not session.connected


def test_tls_identity_as_username_keeps_vendor_lane(broker: Broker) -> None:
    """Certificate CN as username under `cityiot acl`'s ACL: a vendor writes only its own lane."""
    certs = broker.certs
    collector = _Session(broker.identity_port, ca=certs.ca_cert, cert=certs.clients[COLLECTOR_USER])
    vendor = _Session(broker.identity_port, ca=certs.ca_cert, cert=certs.clients[VENDOR])
    try:
        assert collector.connected
        assert vendor.connected
        collector.subscribe("$share/collectors/city/#")
        foreign_lane = f"city/vending/{OTHER_VENDOR}/vm-1/event"
        own_lane = f"city/recycling/{VENDOR}/rs-1/event"
        vendor.publish(foreign_lane, b'{"seq":1}')
        vendor.publish(own_lane, b'{"seq":2}')
        collector.wait_for(1)
        time.sleep(SILENCE)
        assert collector.messages == [(own_lane, b'{"seq":2}')]
    finally:
        vendor.close()
        collector.close()


def test_tls_device_certificate_publishes_only_for_its_own_device(broker: Broker) -> None:
    """On the device listener a device certificate (CN = device id) writes its own topics, under
    any facility or vendor level (the collector checks those against the registry), and nothing
    for another device; it cannot read either."""
    certs = broker.certs
    collector = _Session(broker.identity_port, ca=certs.ca_cert, cert=certs.clients[COLLECTOR_USER])
    device = _Session(broker.device_port, ca=certs.ca_cert, cert=certs.devices[DEVICE])
    try:
        assert collector.connected
        assert device.connected
        collector.subscribe("$share/collectors/city/#")
        device.subscribe("city/#")  # granted nothing: the ACL has no read for devices
        own = f"city/recycling/{VENDOR}/{DEVICE}/event"
        own_status = f"city/recycling/{VENDOR}/{DEVICE}/status"
        other_device = f"city/recycling/{VENDOR}/{OTHER_DEVICE}/event"
        vendor_lane = f"city/recycling/{DEVICE}/x/event"  # the id read as a vendor slug
        device.publish(other_device, b'{"seq":1}')
        device.publish(vendor_lane, b'{"seq":2}')
        device.publish(own, b'{"seq":3}')
        device.publish(own_status, b'{"seq":4}')
        collector.wait_for(2)
        time.sleep(SILENCE)
        assert collector.messages == [(own, b'{"seq":3}'), (own_status, b'{"seq":4}')]
        assert device.messages == []
    finally:
        device.close()
        collector.close()


def test_tls_device_certificate_of_another_ca_refused(broker: Broker) -> None:
    """A device certificate with the right common name from another CA does not connect."""
    device = _Session(
        broker.device_port, ca=broker.certs.ca_cert, cert=broker.foreign.devices[DEVICE]
    )
    device.close()
    assert not device.connected


def test_tls_vendor_certificate_is_no_device_on_the_device_listener(broker: Broker) -> None:
    """A vendor's certificate (CN = slug) on the device listener has no vendor lane there."""
    certs = broker.certs
    collector = _Session(broker.identity_port, ca=certs.ca_cert, cert=certs.clients[COLLECTOR_USER])
    vendor = _Session(broker.device_port, ca=certs.ca_cert, cert=certs.clients[VENDOR])
    try:
        assert collector.connected
        assert vendor.connected
        collector.subscribe("$share/collectors/city/#")
        lane = f"city/recycling/{VENDOR}/{DEVICE}/event"
        vendor.publish(lane, b'{"seq":1}')
        own_id = f"city/recycling/x/{VENDOR}/event"  # its slug in the device level: allowed
        vendor.publish(own_id, b'{"seq":2}')
        collector.wait_for(1)
        time.sleep(SILENCE)
        assert collector.messages == [(own_id, b'{"seq":2}')]
    finally:
        vendor.close()
        collector.close()


class ComposeBroker(NamedTuple):
    """deploy/compose's Mosquitto as run here: the password and device listeners' ports."""

    port: int
    auth: Path
    tls: Path
    device_port: int


@pytest.fixture(scope="module")
def compose_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeBroker]:
    """deploy/compose's mosquitto.conf, paths and ports moved to a temp dir, on real Mosquitto."""
    base = tmp_path_factory.mktemp("compose-mqtt")
    auth = write_auth_dir(base / "auth", [VENDOR]).directory
    tls = write_cert_dir(
        base / "tls", hosts=["mosquitto"], clients=[COLLECTOR_USER], devices=[DEVICE]
    ).directory
    (base / "data").mkdir()
    port, device_port = free_port(), free_port()
    conf = (COMPOSE / "mosquitto" / "mosquitto.conf").read_text()
    conf = (
        conf.replace("/mosquitto/auth/", f"{auth}/")
        .replace("/mosquitto/tls/", f"{tls}/")
        .replace("/mosquitto/data/", f"{base / 'data'}/")
        .replace("listener 8883", f"listener {port} 127.0.0.1")
        .replace("listener 8884", f"listener {device_port} 127.0.0.1")
    )
    path = base / "mosquitto.conf"
    path.write_text("user root\n" + conf)  # the container runs as the files' owner; here: root
    log = base / "mosquitto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([MOSQUITTO, "-c", str(path)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc, log)
        _wait_listening(device_port, proc, log)
        yield ComposeBroker(port, auth, tls, device_port)
    finally:
        proc.terminate()
        proc.wait(5)


def _password_session(port: int, auth: Path, tls: Path, user: str) -> _Session:
    password = (auth / "secrets" / f"{user}.password").read_text().strip()
    return _Session(port, ca=tls / "ca.crt", host="localhost", login=(user, password))


def test_tls_compose_mosquitto_conf_serves_vendor_to_collector(
    compose_broker: ComposeBroker,
) -> None:
    """deploy/compose's mosquitto.conf: TLS + password + ACL carry a vendor's message through."""
    port, auth, tls, _ = compose_broker
    collector = _password_session(port, auth, tls, COLLECTOR_USER)
    vendor = _password_session(port, auth, tls, VENDOR)
    try:
        assert collector.connected
        assert vendor.connected
        collector.subscribe("$share/collectors/city/#")
        topic = f"city/recycling/{VENDOR}/rs-7/event"
        vendor.publish(topic, b'{"seq":7}')
        assert collector.wait_for(1) == [(topic, b'{"seq":7}')]
    finally:
        vendor.close()
        collector.close()


def test_tls_compose_device_listener_pins_a_device_to_its_topics(
    compose_broker: ComposeBroker,
) -> None:
    """deploy/compose's device listener: a device certificate reaches the password-listener
    collector on its own topic and nowhere else."""
    port, auth, tls, device_port = compose_broker
    collector = _password_session(port, auth, tls, COLLECTOR_USER)
    device = _Session(
        device_port,
        ca=tls / "ca.crt",
        host="localhost",
        cert=(tls / "devices" / f"{DEVICE}.crt", tls / "devices" / f"{DEVICE}.key"),
    )
    try:
        assert collector.connected
        assert device.connected
        collector.subscribe("$share/collectors/city/#")
        own = f"city/recycling/{VENDOR}/{DEVICE}/event"
        device.publish(f"city/recycling/{VENDOR}/{OTHER_DEVICE}/event", b'{"seq":1}')
        device.publish(own, b'{"seq":2}')
        collector.wait_for(1)
        time.sleep(SILENCE)
        assert collector.messages == [(own, b'{"seq":2}')]
    finally:
        device.close()
        collector.close()


def test_tls_compose_healthcheck_command_passes(compose_broker: ComposeBroker) -> None:
    """compose.yaml's Mosquitto health check (mosquitto_pub over TLS as the probe user) exits 0."""
    port, auth, tls, _ = compose_broker
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    kind, command = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    command = (
        command.replace("$$", "$")
        .replace("/mosquitto/tls/", f"{tls}/")
        .replace("/mosquitto/auth/", f"{auth}/")
        .replace("-p 8883", f"-p {port}")
    )
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    wrong = command.replace("cityiot-probe.password", f"{VENDOR}.password")
    assert subprocess.run(["sh", "-c", wrong], capture_output=True, timeout=10).returncode != 0
