"""Kafka users and ACLs: one SASL/SCRAM user per service, allowed what that service does.

======================  =====================================================================
user                    may
======================  =====================================================================
``cityiot-admin``       everything (super user): the broker itself, users, ACLs, the probe
``cityiot-collector``   write (and create) the events and dead-letter topics; read nothing
``cityiot-streams``     read events and dead letters, write dead letters and alerts, its
                        consumer group, and its own topics ``<app id>-*`` (table changelogs,
                        Faust's leader topic), which it creates
``cityiot-notifier``    read the alerts topic in its group (``cityiot alerts run``)
``cityiot-tools``       read the three topics (the reconciliation, ``cityiot deadletter list``)
``cityiot-replay``      read the dead letters, write (and create) the events topic
                        (``cityiot deadletter replay``: what the collectors would have sent)
======================  =====================================================================

No other principal has any ACL, and the broker allows nothing without one
(``allow.everyone.if.no.acl.found=false``). :func:`service_acls` is pure (the names come from the
settings); :func:`apply_acls` and :func:`upsert_users` talk to the broker through the Admin API as
the admin, and both are idempotent. The production files grant the same: Compose runs
:mod:`cityiot.access.kafka_acls_job` (these rules, applied), and
``deploy/k8s/strimzi/kafka-users.yaml`` spells them out for Strimzi (a unit test compares).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import KafkaException

# Public names of confluent_kafka.admin, re-exported without an __all__ (hence the ignore).
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from cityiot.access.passwords import PasswordDir
from cityiot.reconcile import RECONCILE_GROUP_PREFIX
from core.errors import CityiotError
from core.settings import KafkaSettings, Settings
from streams.tail import tail_group

__all__ = [
    "ADMIN_USER",
    "COLLECTOR_USER",
    "KAFKA_USERS",
    "NOTIFIER_USER",
    "REPLAY_USER",
    "SCRAM_MECHANISM",
    "STREAMS_USER",
    "TOOLS_USER",
    "KafkaAcl",
    "KafkaAuth",
    "admin_security",
    "apply_acls",
    "service_acls",
    "upsert_users",
    "user_settings",
]

log = logging.getLogger(__name__)

ADMIN_USER = "cityiot-admin"
COLLECTOR_USER = "cityiot-collector"
STREAMS_USER = "cityiot-streams"
NOTIFIER_USER = "cityiot-notifier"
TOOLS_USER = "cityiot-tools"
REPLAY_USER = "cityiot-replay"
KAFKA_USERS = (ADMIN_USER, COLLECTOR_USER, STREAMS_USER, NOTIFIER_USER, TOOLS_USER, REPLAY_USER)
SCRAM_MECHANISM = "SCRAM-SHA-512"
# Kafka's minimum for SCRAM-SHA-512, and what `kafka-storage format --add-scram` uses.
SCRAM_ITERATIONS = 4096
# Creating ACLs and users is a metadata write through the controller; a cold broker answers in
# seconds.
ADMIN_TIMEOUT_S = 30.0

Resource = Literal["topic", "group"]
Pattern = Literal["literal", "prefixed"]
Operation = Literal["READ", "WRITE", "CREATE", "DESCRIBE"]


@dataclass(frozen=True, order=True)
class KafkaAcl:
    """One ALLOW rule: ``user`` may ``operation`` on the ``resource`` named (or prefixed)
    ``name``, from any host."""

    user: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def __str__(self) -> str:
        star = "*" if self.pattern == "prefixed" else ""
        return f"User:{self.user} {self.operation} {self.resource} {self.name}{star}"

    def binding(self) -> AclBinding:
        return AclBinding(
            ResourceType.TOPIC if self.resource == "topic" else ResourceType.GROUP,
            self.name,
            ResourcePatternType.LITERAL
            if self.pattern == "literal"
            else ResourcePatternType.PREFIXED,
            f"User:{self.user}",
            "*",
            AclOperation[self.operation],
            AclPermissionType.ALLOW,
        )


def _grant(
    user: str,
    resource: Resource,
    name: str,
    operations: Iterable[Operation],
    pattern: Pattern = "literal",
) -> list[KafkaAcl]:
    return [KafkaAcl(user, resource, name, pattern, op) for op in operations]


def service_acls(settings: Settings) -> list[KafkaAcl]:
    """Every ACL of the service users, for the settings' topics, app id and notifier group.

    DESCRIBE is granted wherever a service lists or creates a topic (READ and WRITE imply it in
    Kafka, CREATE does not). The collectors' idempotent producer needs no cluster ACL: Kafka 3+
    grants IDEMPOTENT_WRITE to whoever may WRITE a topic.
    """
    k, app = settings.kafka, settings.stream.app_id
    events, dead, alerts = k.events_topic, k.deadletter_topic, k.alerts_topic
    return sorted(
        [
            *_grant(COLLECTOR_USER, "topic", events, ("WRITE", "DESCRIBE", "CREATE")),
            *_grant(COLLECTOR_USER, "topic", dead, ("WRITE", "DESCRIBE", "CREATE")),
            *_grant(STREAMS_USER, "topic", events, ("READ", "DESCRIBE", "CREATE")),
            *_grant(STREAMS_USER, "topic", dead, ("READ", "WRITE", "DESCRIBE", "CREATE")),
            *_grant(STREAMS_USER, "topic", alerts, ("WRITE", "DESCRIBE", "CREATE")),
            # Faust's own topics: <app id>-<table>-changelog, <app id>-__assignor-__leader.
            *_grant(
                STREAMS_USER,
                "topic",
                f"{app}-",
                ("READ", "WRITE", "DESCRIBE", "CREATE"),
                "prefixed",
            ),
            *_grant(STREAMS_USER, "group", app, ("READ",)),
            *_grant(STREAMS_USER, "group", tail_group(app), ("READ",)),
            *_grant(NOTIFIER_USER, "topic", alerts, ("READ", "DESCRIBE")),
            *_grant(NOTIFIER_USER, "group", settings.alert.notifier_group, ("READ",)),
            *(
                acl
                for topic in (events, dead, alerts)
                for acl in _grant(TOOLS_USER, "topic", topic, ("READ", "DESCRIBE"))
            ),
            *_grant(TOOLS_USER, "group", RECONCILE_GROUP_PREFIX, ("READ",), "prefixed"),
            *_grant(REPLAY_USER, "topic", dead, ("READ", "DESCRIBE")),
            *_grant(REPLAY_USER, "group", RECONCILE_GROUP_PREFIX, ("READ",), "prefixed"),
            *_grant(REPLAY_USER, "topic", events, ("WRITE", "DESCRIBE", "CREATE")),
        ]
    )


def user_settings(kafka: KafkaSettings, passwords: PasswordDir, user: str) -> KafkaSettings:
    """``kafka`` as ``user`` of a local SASL/SCRAM Kafka (password from ``passwords``)."""
    return KafkaSettings.model_validate(
        {
            **kafka.model_dump(exclude={"password", "password_file"}),
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SCRAM_MECHANISM,
            "username": user,
            "password_file": passwords.secret_file(user),
        }
    )


@dataclass(frozen=True)
class KafkaAuth:
    """What a local Apache Kafka needs to start with SASL/SCRAM: its users' passwords and the
    ACLs to create once it answers."""

    passwords: PasswordDir
    acls: tuple[KafkaAcl, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaAuth | None:
        """From ``CITYIOT_KAFKA_AUTH_DIR`` (None when unset: no authentication)."""
        if settings.kafka.auth_dir is None:
            return None
        return cls(PasswordDir(settings.kafka.auth_dir.resolve()), tuple(service_acls(settings)))

    @classmethod
    def in_directory(cls, directory: Path, acls: Iterable[KafkaAcl] = ()) -> KafkaAuth:
        return cls(PasswordDir(directory.resolve()), tuple(acls))

    def admin_config(self, bootstrap: str) -> dict[str, str]:
        """A librdkafka config for the admin user (ACLs, users, the readiness probe)."""
        return {"bootstrap.servers": bootstrap, **admin_security(self.passwords)}


def admin_security(passwords: PasswordDir) -> dict[str, str]:
    """The librdkafka security properties of the admin user (password from ``passwords``)."""
    return user_settings(KafkaSettings(), passwords, ADMIN_USER).librdkafka_security()


def _admin(admin_config: Mapping[str, str]) -> AdminClient:
    # librdkafka's own lines through Python logging (quiet below WARNING), not stderr.
    config: dict[str, Any] = {**admin_config, "logger": log}
    return AdminClient(config)


def apply_acls(admin_config: Mapping[str, str], acls: Iterable[KafkaAcl]) -> None:
    """Create ``acls`` (an existing one is left as it is).

    Raises:
        CityiotError: the broker refused one (the message names it).
    """
    wanted = list(acls)
    if not wanted:
        return
    admin = _admin(admin_config)
    futures = admin.create_acls([acl.binding() for acl in wanted], request_timeout=ADMIN_TIMEOUT_S)
    for acl in wanted:
        try:
            futures[acl.binding()].result()
        except KafkaException as exc:
            raise CityiotError(f"kafka: cannot create ACL {acl}: {exc.args[0].str()}") from None


def upsert_users(
    admin_config: Mapping[str, str], passwords: PasswordDir, users: Iterable[str]
) -> None:
    """Set each user's SCRAM-SHA-512 credential to its password file's (created or replaced).

    Raises:
        CityiotError: the broker refused one (the message names the user, not the password).
    """
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
            passwords.password(user).encode(),
        )
        for user in users
    ]
    if not upserts:
        return
    admin = _admin(admin_config)
    futures = admin.alter_user_scram_credentials(upserts, request_timeout=ADMIN_TIMEOUT_S)
    for user, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            raise CityiotError(
                f"kafka: cannot set the SCRAM credential of {user!r}: {exc.args[0].str()}"
            ) from None
