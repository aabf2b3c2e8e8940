"""Mosquitto access control from `cityiot acl`: vendors keep to their lanes, no anonymous."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from tests_support import eventually

from cityiot.access.acl import COLLECTOR_USER, PROBE_USER, AuthFiles, write_auth_dir
from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers, check_health

VENDORS = ("hangxin-vending", "dabashou")
# A message on loopback arrives in milliseconds; this is for a loaded machine.
DELIVERY_TIMEOUT_S = 5.0


@pytest.fixture(scope="module")
def auth_files(tmp_path_factory: pytest.TempPathFactory) -> AuthFiles:
    return write_auth_dir(tmp_path_factory.mktemp("auth"), VENDORS)


@pytest.fixture(scope="module")
def secured(
    auth_files: AuthFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServers]:
    servers = LocalServers(
        run_dir=tmp_path_factory.mktemp("secured"),
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
        mqtt_auth_dir=auth_files.directory,
    )
    with servers:
        yield servers


def _connect(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, ReasonCode]:
    result: list[ReasonCode] = []
    done = threading.Event()

    def on_connect(*args: object) -> None:
        result.append(args[3])  # type: ignore[arg-type]
        done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    if user is not None:
        client.username_pw_set(user, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert done.wait(5), "no CONNACK"
    return client, result[0]


def _collector(port: int, auth: AuthFiles) -> tuple[mqtt.Client, list[str]]:
    client, rc = _connect(port, COLLECTOR_USER, auth.password(COLLECTOR_USER))
    assert not rc.is_failure
    got: list[str] = []
    subscribed = threading.Event()
    client.on_message = lambda _c, _u, msg: got.append(msg.topic)
    client.on_subscribe = lambda *_a: subscribed.set()
    client.subscribe("$share/collectors/city/#", qos=1)
    assert subscribed.wait(5)
    return client, got


def _publish(client: mqtt.Client, topic: str) -> None:
    info = client.publish(topic, b'{"ts":0,"seq":1}', qos=1)
    info.wait_for_publish(5)


def _stop(*clients: mqtt.Client) -> None:
    for client in clients:
        client.disconnect()
        client.loop_stop()


def test_acl_anonymous_and_wrong_password_refused(
    secured: LocalServers, auth_files: AuthFiles
) -> None:
    """With auth on, no username or a wrong password gets a failing CONNACK."""
    anon, rc_anon = _connect(secured.mqtt_port, None, None)
    wrong, rc_wrong = _connect(secured.mqtt_port, VENDORS[0], "not-the-password")
    _stop(anon, wrong)
    assert rc_anon.is_failure
    assert rc_wrong.is_failure


def test_acl_vendor_writes_only_its_own_subtree(
    secured: LocalServers, auth_files: AuthFiles
) -> None:
    """hangxin-vending reaches the collectors under its slug; as dabashou it is dropped."""
    collector, got = _collector(secured.mqtt_port, auth_files)
    vendor, rc = _connect(secured.mqtt_port, VENDORS[0], auth_files.password(VENDORS[0]))
    assert not rc.is_failure
    own = f"city/vending/{VENDORS[0]}/vm-1/event"
    other = f"city/recycling/{VENDORS[1]}/rs-1/event"
    _publish(vendor, other)
    _publish(vendor, own)
    try:
        eventually(lambda: own in got, what=f"{own} at the collector", timeout=DELIVERY_TIMEOUT_S)
        time.sleep(0.3)  # room for the forbidden message to show up if the ACL let it through
    finally:
        _stop(vendor, collector)
    assert got == [own]


def test_acl_collector_user_publishes_nothing(secured: LocalServers, auth_files: AuthFiles) -> None:
    """The collectors' user can read every device topic but its own publishes go nowhere."""
    collector, got = _collector(secured.mqtt_port, auth_files)
    writer, rc = _connect(secured.mqtt_port, COLLECTOR_USER, auth_files.password(COLLECTOR_USER))
    assert not rc.is_failure
    _publish(writer, f"city/vending/{VENDORS[0]}/vm-2/event")
    vendor, _ = _connect(secured.mqtt_port, VENDORS[1], auth_files.password(VENDORS[1]))
    marker = f"city/recycling/{VENDORS[1]}/rs-9/event"
    _publish(vendor, marker)
    try:
        eventually(
            lambda: marker in got, what=f"{marker} at the collector", timeout=DELIVERY_TIMEOUT_S
        )
    finally:
        _stop(writer, vendor, collector)
    assert got == [marker]


def test_acl_status_probe_and_no_secret_in_files(
    secured: LocalServers, auth_files: AuthFiles
) -> None:
    """`services status` probes with its own user; no password appears in configs or logs."""
    checked = check_health(secured.state())
    assert all(server.healthy for server in checked.servers)
    passwords = [auth_files.password(u) for u in (*VENDORS, COLLECTOR_USER, PROBE_USER)]
    hashed = auth_files.password_file.read_text()
    for path in [auth_files.password_file, auth_files.acl_file, *secured.run_dir.rglob("*")]:
        if not Path(path).is_file() or "secrets" in Path(path).parts:
            continue
        text = Path(path).read_bytes().decode(errors="replace")
        assert not any(p in text for p in passwords), path
    assert hashed.count("$7$") == len(VENDORS) + 2  # PBKDF2-SHA512 hashes, one per user


def test_acl_rerun_keeps_passwords(auth_files: AuthFiles) -> None:
    """Running `cityiot acl` again keeps existing passwords; --rotate replaces them."""
    before = auth_files.password(VENDORS[0])
    again = write_auth_dir(auth_files.directory, VENDORS)
    assert again.password(VENDORS[0]) == before


def test_acl_cli_writes_files_for_registry_vendors(tmp_path: Path) -> None:
    """`cityiot acl --registry` makes one user per registry vendor plus the collectors' user."""
    import subprocess
    import sys

    registry = tmp_path / "registry.csv"
    registry.write_text(
        "device_id,facility,vendor,district_adcode,lat,lon,asset_type,expected_interval_s\n"
        "vm-1,vending,hangxin-vending,330203,29.8273,121.3484,,300\n"
        "bike-1,mobility,qingju-bike,,,,bike,60\n"
    )
    out = tmp_path / "auth"
    result = subprocess.run(
        [sys.executable, "-m", "cityiot", "acl", "--registry", str(registry), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    users = {line.split(":")[0] for line in (out / "mosquitto.passwd").read_text().splitlines()}
    assert users == {"hangxin-vending", "qingju-bike", COLLECTOR_USER, PROBE_USER}
    assert (out / "secrets" / "qingju-bike.password").stat().st_mode & 0o777 == 0o600
    assert "pattern write city/+/%u/#" in (out / "mosquitto.acl").read_text()
    assert "pattern write city/+/+/%u/+" in (out / "devices.acl").read_text()
