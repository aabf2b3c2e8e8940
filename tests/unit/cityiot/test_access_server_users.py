"""Kafka's and InfluxDB's users (pure parts): each service's ACLs, password files, no secret in
an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityiot.access import influx_users
from cityiot.access.kafka_users import (
    ADMIN_USER,
    COLLECTOR_USER,
    KAFKA_USERS,
    NOTIFIER_USER,
    REPLAY_USER,
    STREAMS_USER,
    TOOLS_USER,
    KafkaAcl,
    KafkaAuth,
    service_acls,
    user_settings,
)
from cityiot.access.passwords import PasswordDir
from core.errors import CityiotError
from core.influx import InfluxQueryError
from core.influx.target import MASK
from core.settings import Settings

SETTINGS = Settings(
    kafka={"events_topic": "e.v1", "deadletter_topic": "d.v1", "alerts_topic": "a.v1"},
    stream={"app_id": "workers"},
    alert={"notifier_group": "notify"},
)


def _grants(user: str) -> set[tuple[str, str, str, str]]:
    """(operation, resource, name, pattern) of every ACL of ``user``."""
    return {
        (a.operation, a.resource, a.name, a.pattern)
        for a in service_acls(SETTINGS)
        if a.user == user
    }


def test_kafka_acls_collector_writes_events_and_dead_letters_only() -> None:
    """The collectors' user writes (and may create) events and dead letters, reads nothing."""
    assert _grants(COLLECTOR_USER) == {
        (op, "topic", topic, "literal")
        for topic in ("e.v1", "d.v1")
        for op in ("WRITE", "DESCRIBE", "CREATE")
    }


def test_kafka_acls_streams_reads_events_writes_alerts_owns_its_topics() -> None:
    """The workers' user: events and dead letters in, dead letters and alerts out, its group,
    the tail reader's group, and everything under its app id's prefix (changelogs)."""
    grants = _grants(STREAMS_USER)
    assert ("READ", "topic", "e.v1", "literal") in grants
    assert ("WRITE", "topic", "e.v1", "literal") not in grants
    assert {("READ", "topic", "d.v1", "literal"), ("WRITE", "topic", "d.v1", "literal")} <= grants
    assert ("WRITE", "topic", "a.v1", "literal") in grants
    assert ("READ", "topic", "a.v1", "literal") not in grants
    assert {
        (op, "topic", "workers-", "prefixed") for op in ("READ", "WRITE", "DESCRIBE", "CREATE")
    } <= grants
    assert {
        ("READ", "group", "workers", "literal"),
        ("READ", "group", "workers-tail", "literal"),
    } <= grants


def test_kafka_acls_notifier_and_tools_only_read() -> None:
    """The notifier reads the alerts in its group; the tools read the three topics."""
    assert _grants(NOTIFIER_USER) == {
        ("READ", "topic", "a.v1", "literal"),
        ("DESCRIBE", "topic", "a.v1", "literal"),
        ("READ", "group", "notify", "literal"),
    }
    tools = _grants(TOOLS_USER)
    assert {op for op, *_ in tools} == {"READ", "DESCRIBE"}
    assert {name for _, kind, name, _ in tools if kind == "topic"} == {"e.v1", "d.v1", "a.v1"}


def test_kafka_acls_replay_reads_dead_letters_writes_events() -> None:
    """`cityiot deadletter replay`'s user reads the dead letters and writes events, as a
    collector would; it reads no events and writes no dead letters or alerts."""
    grants = _grants(REPLAY_USER)
    assert {("READ", "topic", "d.v1", "literal"), ("WRITE", "topic", "e.v1", "literal")} <= grants
    assert not {op for op, kind, name, _ in grants if kind == "topic" and name == "a.v1"}
    assert ("READ", "topic", "e.v1", "literal") not in grants
    assert ("WRITE", "topic", "d.v1", "literal") not in grants


def test_kafka_acls_none_for_the_admin_and_no_duplicates() -> None:
    """The admin is a super user (no ACL needed); every rule is stated once."""
    acls = service_acls(SETTINGS)
    assert all(a.user != ADMIN_USER for a in acls)
    assert len(acls) == len(set(acls))
    assert {a.user for a in acls} == set(KAFKA_USERS) - {ADMIN_USER}


def test_kafka_acl_binding_says_what_the_rule_says() -> None:
    """A rule becomes an ALLOW binding for User:<name> from any host."""
    acl = KafkaAcl(STREAMS_USER, "topic", "workers-", "prefixed", "CREATE")
    binding = acl.binding()
    assert (binding.principal, binding.host, binding.name) == (
        f"User:{STREAMS_USER}",
        "*",
        "workers-",
    )
    assert (binding.restype.name, binding.resource_pattern_type.name) == ("TOPIC", "PREFIXED")
    assert (binding.operation.name, binding.permission_type.name) == ("CREATE", "ALLOW")
    assert str(acl) == f"User:{STREAMS_USER} CREATE topic workers-*"


def test_kafka_auth_only_with_an_auth_dir(tmp_path: Path) -> None:
    """No CITYIOT_KAFKA_AUTH_DIR, no authentication; with it, the settings' ACLs."""
    assert KafkaAuth.from_settings(SETTINGS) is None
    kafka = SETTINGS.kafka.model_copy(update={"auth_dir": tmp_path})
    auth = KafkaAuth.from_settings(SETTINGS.model_copy(update={"kafka": kafka}))
    assert auth is not None
    assert auth.acls == tuple(service_acls(SETTINGS))


def test_password_dir_files_are_private_and_kept(tmp_path: Path) -> None:
    """One 0600 file per user in a 0700 folder; a second run keeps them, rotate replaces."""
    passwords = PasswordDir(tmp_path / "auth")
    passwords.ensure(KAFKA_USERS)
    first = {user: passwords.password(user) for user in KAFKA_USERS}
    assert len(set(first.values())) == len(KAFKA_USERS)
    assert oct((tmp_path / "auth" / "secrets").stat().st_mode & 0o777) == "0o700"
    modes = {oct(passwords.secret_file(u).stat().st_mode & 0o777) for u in KAFKA_USERS}
    assert modes == {"0o600"}
    passwords.ensure(KAFKA_USERS)
    assert {user: passwords.password(user) for user in KAFKA_USERS} == first
    passwords.ensure([TOOLS_USER], rotate=True)
    assert passwords.password(TOOLS_USER) != first[TOOLS_USER]
    assert passwords.password(ADMIN_USER) == first[ADMIN_USER]


def test_password_dir_missing_user_names_the_file(tmp_path: Path) -> None:
    """A user without a password file: an error naming the file."""
    with pytest.raises(CityiotError, match=r"nobody\.password"):
        PasswordDir(tmp_path).password("nobody")


def test_kafka_user_settings_read_the_password_file(tmp_path: Path) -> None:
    """A service's settings as its user: SCRAM over SASL_PLAINTEXT, the password from its file."""
    passwords = PasswordDir(tmp_path)
    passwords.ensure([COLLECTOR_USER])
    kafka = user_settings(SETTINGS.kafka, passwords, COLLECTOR_USER)
    security = kafka.librdkafka_security()
    assert security["sasl.username"] == COLLECTOR_USER
    assert security["sasl.password"] == passwords.password(COLLECTOR_USER)
    assert security["security.protocol"] == "SASL_PLAINTEXT"
    assert kafka.events_topic == "e.v1"


def test_influx_user_error_never_quotes_the_password() -> None:
    """A refused CREATE USER: the statement (with the password) is not passed on, and the
    password is masked even where InfluxDB's own message repeats it."""
    secret = "pw-1234567890"
    statement = f"CREATE USER \"cityiot-writer\" WITH PASSWORD '{secret}'"
    refused = InfluxQueryError(statement, 400, f"error parsing query: found {secret}")
    error = influx_users._user_error(influx_users.WRITER_USER, refused, secret)
    assert secret not in str(error)
    assert MASK in str(error)
    assert "cityiot-writer" in str(error)
