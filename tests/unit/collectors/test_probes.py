"""collectors.probes: Kafka's reachability as librdkafka's statistics report it."""

from __future__ import annotations

import json

import pytest

from collectors.probes import STATS_INTERVAL_MS, KafkaBrokers


def report(*states: str) -> str:
    """A statistics report (the fields read; librdkafka sends many more) with these brokers."""
    brokers = {f"127.0.0.1:9092/{i}": {"name": f"b{i}", "state": s} for i, s in enumerate(states)}
    return json.dumps({"name": "rdkafka#producer-1", "type": "producer", "brokers": brokers})


def test_kafka_brokers_config_asks_for_reports() -> None:
    """The producer's configuration asks librdkafka for a report every STATS_INTERVAL_MS."""
    brokers = KafkaBrokers()
    config = brokers.config()
    assert config["statistics.interval.ms"] == STATS_INTERVAL_MS
    assert config["stats_cb"] == brokers.on_stats


def test_kafka_brokers_not_ready_before_first_report() -> None:
    assert KafkaBrokers().problem() == "kafka: no connection report yet"


@pytest.mark.parametrize(
    ("states", "problem"),
    [
        (("UP",), None),
        (("DOWN", "UP"), None),
        (("CONNECT",), "kafka: no broker connection up"),
        (("DOWN", "INIT"), "kafka: no broker connection up"),
        ((), "kafka: no broker connection up"),
    ],
    ids=["one-up", "one-of-two-up", "connecting", "none-up", "no-broker"],
)
def test_kafka_brokers_one_connection_up_is_reachable(
    states: tuple[str, ...], problem: str | None
) -> None:
    """Reachable while any broker connection is UP; the latest report decides."""
    brokers = KafkaBrokers()
    brokers.on_stats(report("UP") if problem else report("DOWN"))
    brokers.on_stats(report(*states))
    assert brokers.problem() == problem
