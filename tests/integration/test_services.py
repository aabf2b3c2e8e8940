"""``cityiot services``: the real servers start, answer, report and stop, or fail in one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from tests_support import eventually

from cityiot.local.ports import free_port, port_is_free
from cityiot.local.runner import LocalServers
from core.errors import ServiceError

CLI = [sys.executable, "-m", "cityiot"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)


def _pid_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.split(")")[-1].split()[0] != "Z"


def _mqtt_round_trip(port: int) -> bytes:
    topic = f"test/{uuid.uuid4().hex}"
    got: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = lambda _c, _u, msg: got.append(msg.payload)
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe(topic, qos=1)
    time.sleep(0.3)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    pub.publish(topic, b"hello", qos=1).wait_for_publish(5)
    try:
        eventually(lambda: len(got) > 0, what=f"the message back on {topic}", timeout=5)
    finally:
        for client in (pub, sub):
            client.disconnect()
            client.loop_stop()
    return got[0]


def _kafka_round_trip(bootstrap: str) -> bytes | None:
    topic = f"test_{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(topic, key=b"k", value=b"record", partition=0)
    assert producer.flush(10) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": topic,
            "auto.offset.reset": "earliest",
        }
    )
    # assign, not subscribe: a group join costs ~23 s with librdkafka's defaults (FACTS.md).
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])

    def record() -> bytes | None:
        msg = consumer.poll(0.5)
        assert msg is not None, "no record yet"
        assert msg.error() is None, msg.error()
        return msg.value()

    try:
        return eventually(record, what=f"the record back from {topic}", timeout=20)
    finally:
        consumer.close()


def _influx_round_trip(base_url: str) -> list[object]:
    line = b"probe,district=330203 value=42i 1700000000000000000"
    req = urllib.request.Request(f"{base_url}/write?db=city", data=line, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 204
    query = urllib.parse.urlencode({"db": "city", "q": "SELECT value FROM probe"})
    with urllib.request.urlopen(f"{base_url}/query?{query}", timeout=5) as resp:
        body = json.loads(resp.read())
    values: list[object] = body["results"][0]["series"][0]["values"][0]
    return values


def test_services_cli_up_status_down_round_trip(tmp_path: Path) -> None:
    """Detached up → status shows three healthy URLs → each server carries data → down frees all."""
    ports = {"mqtt": free_port(), "kafka": free_port(), "influxdb": free_port()}
    run_dir = tmp_path / "run"
    up = _cli(
        "services", "up", "--detach", "--run-dir", str(run_dir),
        "--mqtt-port", str(ports["mqtt"]), "--kafka-port", str(ports["kafka"]),
        "--influxdb-port", str(ports["influxdb"]),
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    try:
        status = _cli("services", "status", "--json", "--run-dir", str(run_dir))
        assert status.returncode == 0, status.stderr
        servers = json.loads(status.stdout)["servers"]
        assert servers["mqtt"]["url"] == f"mqtt://127.0.0.1:{ports['mqtt']}"
        assert servers["kafka"]["url"] == f"127.0.0.1:{ports['kafka']}"
        assert servers["influxdb"]["url"] == f"http://127.0.0.1:{ports['influxdb']}"
        assert all(s["healthy"] is True for s in servers.values())

        assert _mqtt_round_trip(ports["mqtt"]) == b"hello"
        assert _kafka_round_trip(servers["kafka"]["url"]) == b"record"
        assert _influx_round_trip(servers["influxdb"]["url"])[1] == 42
    finally:
        down = _cli("services", "down", "--run-dir", str(run_dir))
    assert down.returncode == 0, down.stderr
    assert not any(_pid_running(s["pid"]) for s in servers.values())
    assert all(port_is_free(p) for p in ports.values())
    after = _cli("services", "status", "--json", "--run-dir", str(run_dir))
    assert after.returncode == 1
    assert json.loads(after.stdout)["running"] is False


def test_services_port_busy_is_one_line_error(tmp_path: Path) -> None:
    """A busy port fails before anything starts, naming the server, the port and the fix."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        result = _cli(
            "services", "up", "--run-dir", str(tmp_path),
            "--mqtt-port", str(free_port()), "--kafka-port", str(busy),
            "--influxdb-port", str(free_port()),
        )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: kafka: port")
    assert str(busy) in lines[0]
    assert "--kafka-port" in lines[0]


def test_services_binary_missing_names_the_package(tmp_path: Path) -> None:
    """With no mosquitto on the search path the error says which apt package to install."""
    empty = tmp_path / "bin"
    empty.mkdir()
    servers = LocalServers(
        run_dir=tmp_path / "run",
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
        bin_path=str(empty),
    )
    with pytest.raises(
        ServiceError, match=r"mosquitto: binary not found; fix: apt-get install mosquitto"
    ):
        servers.start()


def test_services_server_dying_at_start_stops_the_others(tmp_path: Path) -> None:
    """InfluxDB that cannot create its meta dir exits; the error gives its log; nothing is left."""
    run_dir = tmp_path / "run"
    (run_dir / "influxdb").mkdir(parents=True)
    (run_dir / "influxdb" / "meta").write_text("a file where influxd needs a directory")
    ports = {"mqtt": free_port(), "kafka": free_port(), "influxdb": free_port()}
    servers = LocalServers(
        run_dir=run_dir,
        mqtt_port=ports["mqtt"],
        kafka_port=ports["kafka"],
        influxdb_port=ports["influxdb"],
    )
    with pytest.raises(ServiceError) as info:
        servers.start()
    assert info.value.server == "influxdb"
    assert "exited with code" in info.value.cause
    assert info.value.log is not None
    assert info.value.log.endswith("influxdb.log")
    assert Path(info.value.log).read_text()  # the log holds influxd's own complaint
    assert all(port_is_free(p) for p in ports.values())
    assert not (run_dir / "services.json").exists()


def test_services_fixture_servers_answer(local_servers: LocalServers) -> None:
    """The session fixture's servers are the real ones and answer real requests."""
    assert _mqtt_round_trip(local_servers.mqtt_port) == b"hello"
    assert _influx_round_trip(local_servers.influxdb_url)[1] == 42
    assert os.path.exists(local_servers.run_dir / "logs" / "mosquitto.log")
