"""InfluxDB 1.6 with auth-enabled and the platform's users: the writer only writes, the reader
only reads, a refusal is a clear InfluxAuthError, and no password shows in a message or a log."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from cityiot.access.influx_users import (
    INFLUX_ADMIN_USER,
    INFLUX_USERS,
    READER_USER,
    WRITER_USER,
    admin_target,
    provision,
    user_settings,
)
from cityiot.local.ports import free_port
from cityiot.local.runner import LocalServers
from core.influx import InfluxAuthError, InfluxTarget, InfluxUnavailable, V1Writer
from core.settings import InfluxDBSettings

pytestmark = pytest.mark.integration

NS = 10**18


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServers]:
    """InfluxDB with auth-enabled, its users created by the runner (Tansu: the light Kafka)."""
    root = tmp_path_factory.mktemp("influx-auth")
    servers = LocalServers(
        run_dir=root / "servers",
        mqtt_port=free_port(),
        kafka_port=free_port(),
        influxdb_port=free_port(),
        kafka="tansu",
        influxdb_auth_dir=root / "influxdb-auth",
    )
    with servers:
        yield servers


@pytest.fixture
def database(secured: LocalServers) -> str:
    """A database of this test's own, with the writer's and the reader's grants on it."""
    assert secured.influxdb_passwords is not None
    name = f"db_{uuid.uuid4().hex[:8]}"
    provision(secured.influxdb_url, name, secured.influxdb_passwords)
    return name


def _target(secured: LocalServers, database: str, user: str) -> InfluxTarget:
    assert secured.influxdb_passwords is not None
    settings = InfluxDBSettings(url=secured.influxdb_url, database=database)
    return InfluxTarget.from_settings(user_settings(settings, secured.influxdb_passwords, user))


async def _write(target: InfluxTarget, lines: list[str]) -> None:
    writer = V1Writer(target)
    await writer.start()
    try:
        await writer.write(lines)
    finally:
        await writer.close()


def _secrets(secured: LocalServers) -> dict[str, str]:
    assert secured.influxdb_passwords is not None
    return {user: secured.influxdb_passwords.password(user) for user in INFLUX_USERS}


def test_influx_auth_writer_writes_reader_reads(secured: LocalServers, database: str) -> None:
    """The streams workers' user writes; the read-only user reads what it wrote."""
    asyncio.run(_write(_target(secured, database, WRITER_USER), [f"m,device=d1 v=1i {NS}"]))
    (series,) = _target(secured, database, READER_USER).query('SELECT "v" FROM "m"', epoch="ns")
    assert series["values"] == [[NS, 1]]


def test_influx_auth_reader_cannot_write(
    secured: LocalServers, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The read-only user's write is refused: 403, an InfluxAuthError naming the user."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InfluxAuthError) as caught:
        asyncio.run(_write(_target(secured, database, READER_USER), [f"m v=2i {NS}"]))
    error = caught.value
    assert error.status == 403
    assert error.who == f"user {READER_USER!r}"
    assert "not authorized to write" in error.message
    assert isinstance(error, InfluxUnavailable)  # retried by the sink, never dropped
    text = str(error) + caplog.text
    assert all(secret not in text for secret in _secrets(secured).values())


def test_influx_auth_writer_cannot_read(secured: LocalServers, database: str) -> None:
    """The write-only user may not query: 403 as an InfluxAuthError."""
    with pytest.raises(InfluxAuthError) as caught:
        _target(secured, database, WRITER_USER).query('SELECT "v" FROM "m"')
    assert caught.value.status == 403
    assert "requires READ" in caught.value.message


@pytest.mark.parametrize("who", ["wrong-password", "anonymous"])
def test_influx_auth_refuses_unknown_credentials(
    secured: LocalServers, database: str, who: str
) -> None:
    """A wrong password or no user at all: 401, and the wrong password is not in the message."""
    wrong = f"wrong-{uuid.uuid4().hex}"
    target = (
        InfluxTarget(
            secured.influxdb_url, database, username=WRITER_USER, password=SecretStr(wrong)
        )
        if who == "wrong-password"
        else InfluxTarget(secured.influxdb_url, database)
    )
    with pytest.raises(InfluxAuthError) as caught:
        asyncio.run(_write(target, [f"m v=3i {NS}"]))
    assert caught.value.status == 401
    assert wrong not in str(caught.value)


def test_influx_auth_provision_is_idempotent_and_takes_a_new_password(
    secured: LocalServers, database: str
) -> None:
    """Provisioning again changes nothing; a rotated password file takes effect on the next
    provisioning, and the old password stops working."""
    passwords = secured.influxdb_passwords
    assert passwords is not None
    provision(secured.influxdb_url, database, passwords)
    old = _target(secured, database, READER_USER)
    assert old.query("SHOW MEASUREMENTS") == []
    passwords.ensure([READER_USER], rotate=True)
    provision(secured.influxdb_url, database, passwords)
    with pytest.raises(InfluxAuthError):
        old.query("SHOW MEASUREMENTS")
    assert _target(secured, database, READER_USER).query("SHOW MEASUREMENTS") == []


def test_influx_auth_no_password_in_server_logs(secured: LocalServers, database: str) -> None:
    """After users were created, used and refused, no password is in any server log."""
    assert secured.influxdb_passwords is not None
    admin = admin_target(secured.influxdb_url, database, secured.influxdb_passwords)
    users = {row[0] for series in admin.query("SHOW USERS") for row in series["values"]}
    assert users >= {INFLUX_ADMIN_USER, WRITER_USER, READER_USER}
    logs = list(secured.run_dir.rglob("*.log"))
    assert logs
    for log in logs:
        text = log.read_text(errors="replace")
        for user, secret in _secrets(secured).items():
            assert secret not in text, f"{user}'s password in {log}"
