"""The platform with access control and TLS on: vendors' lanes, mqtts://, and no secret in a log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.publish
import pytest
from tests_e2e_support import RUN, explain, finish
from tests_support import eventually

from cityiot.access.acl import COLLECTOR_USER, PROBE_USER, SIMULATOR_USER, write_auth_dir
from cityiot.access.certs import write_cert_dir
from cityiot.local.platform import Platform
from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers
from cityiot.reconcile import count_deadletters
from core.settings import Settings
from schemas import DistrictIndex, Facility
from schemas.examples import EXAMPLES
from simulator.fleet import build_fleet

SECURED_RUN = replace(RUN, seed=RUN.seed + 3, duration=8.0)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[LocalServers, Path, Path]]:
    """Mosquitto with one user per vendor of the run's fleet, anonymous off, and a TLS listener."""
    fleet = build_fleet(
        SECURED_RUN.devices,
        seed=SECURED_RUN.seed,
        locator=DistrictIndex.load(),
        will_devices=SECURED_RUN.will_devices,
    )
    auth = write_auth_dir(
        tmp_path / "auth", {r.vendor for r in fleet.registry()}, simulator=True
    ).directory
    certs = write_cert_dir(tmp_path / "certs").directory
    servers = LocalServers(
        run_dir=tmp_path / "servers",
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
        mqtt_auth_dir=auth,
        mqtt_tls_dir=certs,
        mqtts_port=free_port(),
    )
    with servers:
        yield servers, auth, certs


def test_e2e_secured_over_mqtts_exact_and_no_secret_logged(
    secured: tuple[LocalServers, Path, Path], tmp_path: Path
) -> None:
    """Collector and simulator over mqtts:// with their own users: exact, and secrets stay out."""
    servers, auth, certs = secured
    tag = uuid.uuid4().hex[:8]
    password = {u: (auth / "secrets" / f"{u}.password").read_text().strip() for u in
                (COLLECTOR_USER, SIMULATOR_USER, PROBE_USER)}  # fmt: skip
    settings = Settings(
        mqtt={"url": servers.mqtts_url, "tls_ca_file": certs / "ca.crt"},
        kafka={"bootstrap_servers": servers.kafka_bootstrap},
        influxdb={"url": servers.influxdb_url, "database": f"db_{tag}"},
        stream={"app_id": f"streams_{tag}"},
        collector={"group": f"collectors_{tag}", "client_id": f"collector_{tag}"},
        run_dir=tmp_path / "run",
    )
    platform = Platform(settings, tmp_path / "platform")
    try:
        platform.write_registry(SECURED_RUN)
        platform.start_stream()
        platform.start_collector(
            extra_env={
                "CITYIOT_MQTT_USERNAME": COLLECTOR_USER,
                "CITYIOT_MQTT_PASSWORD": password[COLLECTOR_USER],
            }
        )
        platform.wait_collector_connected()
        platform.start_simulator(
            SECURED_RUN,
            extra_env={
                "CITYIOT_MQTT_USERNAME": SIMULATOR_USER,
                "CITYIOT_MQTT_PASSWORD": password[SIMULATOR_USER],
            },
        )
        result = finish(platform)
        assert result.exact, explain(result)
        _spoof_as_vendor(platform, servers, auth, certs)
    finally:
        platform.stop()
    logs = [p for root in (tmp_path / "platform", servers.run_dir) for p in root.rglob("*.log")]
    assert len(logs) >= 6  # collector, stream, simulator, mosquitto, tansu, influxdb
    for log in logs:
        text = log.read_text(errors="replace")
        for user, secret in password.items():
            assert secret not in text, f"{user}'s password in {log}"


def _spoof_as_vendor(platform: Platform, servers: LocalServers, auth: Path, certs: Path) -> None:
    """A vendor, with its own credentials and inside its own ACL lane, writes a sale into
    another vendor's machine and one of its own machines under the recycling tree: both end in
    the dead letters with their reasons and nothing of them in InfluxDB. The same vendor's sale on
    its own machine is stored, so the query below can see a sale when there is one."""
    fleet = build_fleet(
        SECURED_RUN.devices,
        seed=SECURED_RUN.seed,
        locator=DistrictIndex.load(),
        will_devices=SECURED_RUN.will_devices,
    )
    machines = [r for r in fleet.registry() if r.facility is Facility.VENDING]
    own = machines[0]
    victim = next(r for r in machines if r.vendor != own.vendor)
    vendor = own.vendor
    now = datetime.now(UTC).isoformat()

    def sale(fen: int) -> str:
        # A seq far above the run's: new to dedup, whatever the simulator sent.
        return json.dumps(
            {**EXAMPLES["vending_sale"], "ts": now, "seq": 10**6 + fen, "amount_fen": fen}
        )

    settings = platform.settings
    before = count_deadletters(servers.kafka_bootstrap, settings.kafka.deadletter_topic)
    paho.mqtt.publish.multiple(
        [
            (f"city/vending/{vendor}/{victim.device_id}/event", sale(99_999), 1, False),
            (f"city/recycling/{vendor}/{own.device_id}/event", sale(99_998), 1, False),
            (f"city/vending/{vendor}/{own.device_id}/event", sale(99_997), 1, False),
        ],
        hostname="127.0.0.1",
        port=servers.mqtts_port,
        auth={
            "username": vendor,
            "password": (auth / "secrets" / f"{vendor}.password").read_text().strip(),
        },
        tls={"ca_certs": str(certs / "ca.crt")},
    )
    target = platform.influx()

    def stored(fen: int) -> int:
        query = f"SELECT count(amount_fen) FROM vending_sale WHERE amount_fen = {fen}"  # noqa: S608 (an int)
        return sum(int(row[1]) for series in target.query(query) for row in series["values"])

    eventually(lambda: stored(99_997) == 1, timeout=60, what="the vendor's own sale stored")
    after = count_deadletters(servers.kafka_bootstrap, settings.kafka.deadletter_topic)
    assert after["wrong_vendor"] - before["wrong_vendor"] == 1
    assert after["wrong_facility"] - before["wrong_facility"] == 1
    assert (stored(99_999), stored(99_998)) == (0, 0)
