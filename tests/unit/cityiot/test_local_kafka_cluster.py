"""A node of a local Kafka cluster: its files name the whole quorum (pure, no JVM)."""

from __future__ import annotations

from pathlib import Path

from cityiot.local import apache_kafka
from cityiot.local.kafka_cluster import _formatted_cluster_id


def test_kafka_cluster_node_properties_name_every_voter(tmp_path: Path) -> None:
    """Node 2 of three: its own id and ports, all three voters, internal topics replicated."""
    text = apache_kafka.server_properties(
        port=19192,
        controller_port=19193,
        data_dir=tmp_path / "data",
        partitions=4,
        node_id=2,
        voters={1: 19093, 2: 19193, 3: 19293},
    )
    lines = set(text.splitlines())
    assert "node.id=2" in lines
    assert "controller.quorum.voters=1@127.0.0.1:19093,2@127.0.0.1:19193,3@127.0.0.1:19293" in lines
    assert "listeners=PLAINTEXT://127.0.0.1:19192,CONTROLLER://127.0.0.1:19193" in lines
    assert "offsets.topic.replication.factor=3" in lines
    assert "transaction.state.log.min.isr=2" in lines
    assert "default.replication.factor=3" in lines
    assert "log.retention.hours=6" in lines


def test_kafka_cluster_single_node_keeps_one_replica(tmp_path: Path) -> None:
    """Without voters the node is a quorum of one: one replica, no default replication line."""
    text = apache_kafka.server_properties(
        port=19092, controller_port=19093, data_dir=tmp_path / "data", partitions=4
    )
    assert "offsets.topic.replication.factor=1" in text.splitlines()
    assert "default.replication.factor" not in text


def test_kafka_cluster_reads_the_formatted_cluster_id(tmp_path: Path) -> None:
    """Nodes 2..N format with node 1's cluster id; an unformatted directory has none."""
    assert _formatted_cluster_id(tmp_path) is None
    (tmp_path / "meta.properties").write_text(
        "#\nnode.id=1\ndirectory.id=abc\nversion=1\ncluster.id=q1Sh-9_ny9aQ7CXGpmSbOQ\n"
    )
    assert _formatted_cluster_id(tmp_path) == "q1Sh-9_ny9aQ7CXGpmSbOQ"
