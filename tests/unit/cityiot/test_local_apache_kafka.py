"""The local Apache Kafka's files and the errors of its first fetch (pure, and PATH tricks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cityiot.local import apache_kafka
from core.errors import ServiceError


def test_apache_kafka_server_properties_one_kraft_node_on_loopback(tmp_path: Path) -> None:
    """Broker and controller on 127.0.0.1, data under the run dir, retention bounded."""
    text = apache_kafka.server_properties(
        port=19092, controller_port=19093, data_dir=tmp_path / "data", partitions=4
    )
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in text
    assert "controller.quorum.voters=1@127.0.0.1:19093" in text
    assert f"log.dirs={tmp_path / 'data'}" in text
    assert "num.partitions=4" in text
    assert "log.retention.hours=6" in text


@pytest.mark.parametrize(
    ("tools", "missing", "fix"),
    [
        ((), "java not found", "openjdk-17-jre-headless"),
        (("java",), "mvn not found", "apt-get install maven"),
    ],
    ids=["no-java", "no-maven"],
)
def test_apache_kafka_fetch_names_the_missing_tool(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tools: tuple[str, ...],
    missing: str,
    fix: str,
) -> None:
    """A machine without Java or Maven gets one line saying what to install."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found is not None, f"{tool} is needed to run this test"
        (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(ServiceError) as info:
        apache_kafka.ensure_jars()
    assert info.value.server == "kafka"
    assert missing in info.value.cause
    assert info.value.fix is not None
    assert fix in info.value.fix


def test_apache_kafka_cluster_id_never_looks_like_an_option() -> None:
    """22 URL-safe base64 characters, never a leading '-' (the storage tool would refuse it)."""
    ids = [apache_kafka._cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_apache_kafka_server_properties_with_authentication(tmp_path: Path) -> None:
    """With an admin password: clients on SASL/SCRAM only, ACLs required, the admin the one
    super user, the controller listener on SASL too (PLAIN: KRaft cannot check SCRAM there)."""
    text = apache_kafka.server_properties(
        port=19092,
        controller_port=19093,
        data_dir=tmp_path / "data",
        partitions=4,
        admin_password="admin-pw",
    )
    lines = set(text.splitlines())
    assert "listeners=CLIENT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in lines
    assert "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT" in lines
    assert "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512" in lines
    assert "allow.everyone.if.no.acl.found=false" in lines
    assert "super.users=User:cityiot-admin" in lines
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in lines
    assert not any(line.startswith("listeners=PLAINTEXT") for line in lines)
    assert "PLAINTEXT:PLAINTEXT" not in text


def test_apache_kafka_refuses_users_on_storage_formatted_without(tmp_path: Path) -> None:
    """Data formatted without SCRAM users has no admin: starting it with users says so."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "meta.properties").write_text("version=1\n")
    with pytest.raises(ServiceError) as info:
        apache_kafka.format_storage(
            lib=tmp_path,
            properties=tmp_path / "server.properties",
            data_dir=data,
            log=tmp_path / "kafka.log",
            scram_users={"cityiot-admin": "pw"},
        )
    assert "formatted without authentication" in info.value.cause
    assert info.value.fix is not None
    assert str(data) in info.value.fix
