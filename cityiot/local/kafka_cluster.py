"""Apache Kafka as a local cluster: N KRaft nodes on loopback, each a JVM of its own.

What the production files ask of Kafka (three brokers, topics with three replicas, two in sync)
on one machine, to see it hold: a broker SIGKILLed mid-run, its partitions' leadership moving to
the others, and the broker back later, catching up. Each node is broker and controller (the
quorum is all of them, so any one may go), with its own ports, data and log under the run
directory, and the files of :mod:`cityiot.local.apache_kafka` (the same jars, the same
retention); the heap is smaller than a single node's, three of them share the CPU and memory
one node had.

No authentication (a cluster of loopback nodes is for trying replication, not access), and no
Tansu: it has no replication.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from confluent_kafka.admin import AdminClient

from cityiot.local import apache_kafka, ports, probes
from cityiot.local.runner import die_with_parent
from cityiot.local.state import STOP_GRACE_S
from core.errors import ServiceError

__all__ = ["CLUSTER_HEAP_MAX", "KafkaCluster", "KafkaNode", "PartitionState"]

# Three JVMs on the two cores and the memory one node of 384 MB had: 256 MB each held the
# events of a city simulation with three replicas (tests/e2e/test_kafka_failover.py).
CLUSTER_HEAP_MAX = "256m"
# Three JVMs loading ~45 jars each at once on two busy cores, then electing a controller.
STARTUP_TIMEOUT_S = 180.0
# One metadata request of a readiness check; a node that is still starting refuses at once.
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class KafkaNode:
    """One node of the cluster: its id, where it listens, its files, how it is started."""

    node_id: int
    port: int
    controller_port: int
    conf_dir: Path
    log: Path
    argv: list[str]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class PartitionState:
    """One partition as the cluster's metadata has it: its leader (-1: none) and replicas."""

    leader: int
    replicas: tuple[int, ...]
    in_sync: tuple[int, ...]


class KafkaCluster:
    """``brokers`` Apache Kafka nodes as one cluster: ``start()``, ``stop()``, or ``with``; and
    one node at a time: ``kill()``, ``start_node()``."""

    def __init__(
        self,
        *,
        run_dir: Path,
        brokers: int = 3,
        partitions: int = 4,
        heap_max: str = CLUSTER_HEAP_MAX,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        """``partitions``: the brokers' default for topics created without a count. Ports are
        free loopback ports the OS hands out; the data survives ``stop()`` (same run dir, same
        topics), not the ports."""
        if brokers < 1:
            raise ValueError("a cluster has at least one broker")
        self.run_dir = run_dir.resolve()
        self.brokers = brokers
        self.partitions = partitions
        self.heap_max = heap_max
        self.startup_timeout = startup_timeout
        self.nodes: dict[int, KafkaNode] = {}
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def bootstrap(self) -> str:
        """Every node's client address, as ``CITYIOT_KAFKA_BOOTSTRAP_SERVERS`` takes them."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Write and format every node, start them all, return once each serves metadata
        naming every broker. Stops what it started and raises ``ServiceError`` otherwise."""
        self.nodes = self._plan()
        try:
            # All at once: a node is not ready before a majority of the quorum runs.
            for node_id in self.nodes:
                self._spawn(node_id)
            for node_id in self.nodes:
                self._await_ready(node_id)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM every node, SIGKILL what has not exited within the grace period."""
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        for node_id, proc in list(self._procs.items()):
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                # The last nodes may wait for a controller quorum that has already gone.
                proc.kill()
                proc.wait()
            ports.wait_port_free(self.nodes[node_id].port)
        self._procs.clear()

    def kill(self, node_id: int) -> None:
        """SIGKILL one node (no controlled shutdown, as a crash or a lost machine) and wait
        until it is gone."""
        proc = self._procs.pop(node_id)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ports.wait_port_free(self.nodes[node_id].port)

    def start_node(self, node_id: int) -> None:
        """Start one stopped node again on its ports and data; return once it serves metadata
        naming every broker (its replicas catch up after that)."""
        if node_id in self._procs:
            raise ServiceError("kafka", f"node {node_id} is already running")
        self._spawn(node_id)
        try:
            self._await_ready(node_id)
        except BaseException:
            with contextlib.suppress(KeyError):
                self.kill(node_id)
            raise

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the cluster says -----------------------------------------------------------------
    def topic_partitions(self, topic: str) -> dict[int, PartitionState]:
        """Leader and replicas of each partition of ``topic`` (empty: no such topic yet)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        metadata = admin.list_topics(topic, timeout=PROBE_TIMEOUT_S)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            return {}
        return {
            p.id: PartitionState(p.leader, tuple(p.replicas), tuple(p.isrs))
            for p in found.partitions.values()
        }

    # -- internals ---------------------------------------------------------------------------
    def _plan(self) -> dict[int, KafkaNode]:
        lib = apache_kafka.ensure_jars()
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        ids = range(1, self.brokers + 1)
        client_ports = {n: ports.free_port() for n in ids}
        voters = {n: ports.free_port() for n in ids}
        # Every node formats with the cluster id of node 1 (kept in its meta.properties once
        # formatted, so a second start in the same run dir finds the same cluster).
        cluster_id = _formatted_cluster_id(self.run_dir / "kafka-1" / "data")
        nodes: dict[int, KafkaNode] = {}
        for n in ids:
            conf_dir = self.run_dir / f"kafka-{n}"
            conf_dir.mkdir(parents=True, exist_ok=True)
            properties = conf_dir / "server.properties"
            properties.write_text(
                apache_kafka.server_properties(
                    port=client_ports[n],
                    controller_port=voters[n],
                    data_dir=conf_dir / "data",
                    partitions=self.partitions,
                    node_id=n,
                    voters=voters,
                )
            )
            log = self.run_dir / "logs" / f"kafka-{n}.log"
            apache_kafka.format_storage(
                lib=lib,
                properties=properties,
                data_dir=conf_dir / "data",
                log=log,
                cluster_id=cluster_id,
            )
            cluster_id = cluster_id or _formatted_cluster_id(conf_dir / "data")
            argv = apache_kafka.broker_argv(
                lib=lib,
                properties=properties,
                log4j_config=conf_dir / "log4j2.yaml",
                heap_max=self.heap_max,
            )
            nodes[n] = KafkaNode(n, client_ports[n], voters[n], conf_dir, log, argv)
        return nodes

    def _spawn(self, node_id: int) -> None:
        node = self.nodes[node_id]
        with node.log.open("ab") as log:
            self._procs[node_id] = subprocess.Popen(
                node.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=node.conf_dir,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def _await_ready(self, node_id: int) -> None:
        node = self.nodes[node_id]
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer yet"
        while True:
            self._raise_if_exited()
            try:
                seen = _brokers_seen(node.port)
                if seen == self.brokers:
                    return
                last_error = f"its metadata names {seen} of {self.brokers} brokers"
            except probes.ProbeFailed as exc:
                last_error = str(exc)
            if time.monotonic() > deadline:
                raise ServiceError(
                    "kafka",
                    f"node {node_id} not ready after {self.startup_timeout:.0f} s ({last_error})",
                    fix="read the log",
                    log=str(node.log),
                )
            time.sleep(0.2)

    def _raise_if_exited(self) -> None:
        for node_id, proc in self._procs.items():
            code = proc.poll()
            if code is not None:
                raise ServiceError(
                    "kafka",
                    f"node {node_id} exited with code {code} while starting",
                    fix="read the log",
                    log=str(self.nodes[node_id].log),
                )


def _brokers_seen(port: int) -> int:
    """How many brokers the node on ``port`` lists in its metadata."""
    if not probes.tcp_open(port):
        raise probes.ProbeFailed(f"nothing accepts connections on 127.0.0.1:{port} yet")
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=PROBE_TIMEOUT_S)
    except Exception as exc:
        raise probes.ProbeFailed(f"Kafka metadata request failed: {exc}") from exc
    return len(metadata.brokers)


def _formatted_cluster_id(data_dir: Path) -> str | None:
    """The cluster id a formatted data directory belongs to (None: not formatted)."""
    meta = data_dir / "meta.properties"
    if not meta.exists():
        return None
    values: Mapping[str, str] = dict(
        line.split("=", 1) for line in meta.read_text().splitlines() if "=" in line
    )
    return values.get("cluster.id")
