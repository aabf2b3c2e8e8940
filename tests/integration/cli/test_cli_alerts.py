"""``cityiot alerts notify`` and ``cityiot alerts run`` as processes, against the session's real
Kafka and a real HTTP server that checks each webhook's signature itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_support import Answer, Request, cityiot_env, http_server, run_cityiot
from confluent_kafka import Consumer, Producer, TopicPartition
from tests_support import eventually

from core.settings import Settings
from schemas.alert import Alert
from streams.alerts.webhooks.probe import sample_alert

pytestmark = pytest.mark.integration

SECRET = "cli-webhook-secret"
OTHER_SECRET = "cli-other-secret"
# Robot URLs carry their access token in the query: the URL is a secret too.
URL_TOKEN = "url-tok3n-DO-NOT-ECHO"
STARTS = datetime(2025, 5, 1, 2, 40, tzinfo=UTC)
# A signature older than this is a replay (docs/alerts.md); a request on loopback takes ms.
FRESH_S = 300
# `alerts run` stops after the fetch in hand is delivered and committed: seconds.
STOP_TIMEOUT_S = 60.0


def _signed(request: Request, secret: str) -> bool:
    """Verify the webhook as a receiver would: HMAC-SHA256 of timestamp "." body, and fresh."""
    timestamp = request.headers["x-cityiot-timestamp"]
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    fresh = abs(time.time() - int(timestamp)) < FRESH_S
    return fresh and hmac.compare_digest(
        request.headers["x-cityiot-signature"], "sha256=" + mac.hexdigest()
    )


def _receiver(request: Request) -> Answer:
    """200 for a valid signature of the endpoint's secret, 401 otherwise (as a receiver should)."""
    secret = {"/ops": SECRET, "/other": OTHER_SECRET, "/pager": OTHER_SECRET}.get(request.path)
    if secret is None or not _signed(request, secret):
        return Answer(401, {"error": "bad signature"})
    return Answer(200, {})


def _endpoints(url: str, *extra: Mapping[str, object]) -> str:
    ops = {"name": "ops", "url": f"{url}/ops?access_token={URL_TOKEN}", "secret": SECRET}
    return json.dumps([ops, *extra])


def _secrets_absent(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text
        assert URL_TOKEN not in text


def test_alerts_notify_delivers_signed_test_alerts(tmp_path: Path) -> None:
    """``notify --endpoint ops``: a signed firing and resolved test alert reach ops alone."""
    delivery_log = tmp_path / "delivery.jsonl"
    with http_server(_receiver) as server:
        other = {"name": "other", "url": f"{server.url}/other", "secret": OTHER_SECRET}
        env = cityiot_env(
            tmp_path,
            CITYIOT_ALERT_WEBHOOKS=_endpoints(server.url, other),
            CITYIOT_ALERT_DELIVERY_LOG_PATH=str(delivery_log),
        )
        result = run_cityiot(["alerts", "notify", "--endpoint", "ops"], env)
    assert result.returncode == 0, result.stderr
    assert server.on("/other") == []
    got = server.on("/ops")
    assert len(got) == 2
    assert all(r.method == "POST" and r.query == {"access_token": URL_TOKEN} for r in got)
    assert all(_signed(r, SECRET) for r in got)
    alerts = {
        r.headers["x-cityiot-alert-status"]: (r, Alert.model_validate_json(r.body)) for r in got
    }
    assert sorted(alerts) == ["firing", "resolved"]
    expected = sample_alert("firing", STARTS)
    for status, (request, alert) in alerts.items():
        assert alert.status == status
        assert request.headers["idempotency-key"] == alert.idempotency_key
        assert (alert.rule, alert.device_id, alert.severity) == (
            expected.rule,
            expected.device_id,
            expected.severity,
        )
        assert alert.fingerprint == expected.fingerprint
    assert alerts["resolved"][1].ends_at is not None
    assert alerts["firing"][1].ends_at is None
    # One line per attempt on stdout, and the same attempts in the delivery log.
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(
        line.startswith("ops\t") and "\tdelivered\thttp_status=200\t" in line for line in lines
    )
    assert {line.split("\t")[1] for line in lines} == {"firing", "resolved"}
    logged = [json.loads(line) for line in delivery_log.read_text().splitlines()]
    assert [(r["endpoint"], r["outcome"]) for r in logged] == [("ops", "delivered")] * 2
    _secrets_absent(result.stdout, result.stderr, delivery_log.read_text())


def test_alerts_notify_refused_is_dead_letter_and_one_error_line(tmp_path: Path) -> None:
    """An endpoint answering 500, no retries: one attempt, a dead letter, an error line, exit 1."""
    dead_letter = tmp_path / "dead.jsonl"
    with http_server(lambda _: Answer(500, {"error": "down"})) as server:
        env = cityiot_env(
            tmp_path,
            CITYIOT_ALERT_WEBHOOKS=json.dumps(
                [{"name": "ops", "url": f"{server.url}/ops", "secret": SECRET, "retries": 0}]
            ),
            CITYIOT_ALERT_DEAD_LETTER_PATH=str(dead_letter),
        )
        result = run_cityiot(["alerts", "notify", "--no-resolve"], env)
    assert result.returncode == 1, result.stderr
    (request,) = server.requests
    assert _signed(request, SECRET)
    assert Alert.model_validate_json(request.body).status == "firing"
    assert result.stdout.strip().split("\t")[:2] == ["ops", "firing"]
    assert "\tdead_letter\thttp_status=500\t" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: some notifications failed; see {dead_letter}"
    )
    assert "Traceback" not in result.stderr
    (letter,) = [json.loads(line) for line in dead_letter.read_text().splitlines()]
    assert (letter["endpoint"], letter["attempts"]) == ("ops", 1)
    assert (letter["alert"]["rule"], letter["alert"]["status"]) == ("cityiot-test", "firing")
    _secrets_absent(result.stdout, result.stderr, dead_letter.read_text())


def _alert(status: str, severity: str) -> Alert:
    return Alert.model_validate(
        {
            "status": status,
            "fingerprint": "00000000000000cc",
            "rule": "vending-fridge-too-warm",
            "rule_type": "threshold",
            "severity": severity,
            "device_id": "VM-7",
            "labels": {"alertname": "vending-fridge-too-warm", "severity": severity},
            "summary_zh": "售货机 VM-7 冷藏温度过高",
            "summary_en": "Vending machine VM-7 too warm",
            "starts_at": STARTS,
            "ends_at": STARTS + timedelta(minutes=20) if status == "resolved" else None,
        }
    )


def _committed(bootstrap: str, topic: str, group: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=20).topics[topic].partitions
        tps = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=20)
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        consumer.close()


def test_alerts_run_delivers_topic_changes_then_stops_on_sigterm(
    settings: Settings, unique_name: str, tmp_path: Path
) -> None:
    """``alerts run`` reads the configured topic and group: each change reaches the endpoint
    that wants it, signed, once; SIGTERM stops it with its summary and the offsets committed."""
    firing, resolved = _alert("firing", "warning"), _alert("resolved", "warning")
    # Junk first: once the last change is delivered, every record has been fetched.
    values = [b"junk", firing.model_dump_json().encode(), resolved.model_dump_json().encode()]
    topic, bootstrap = settings.kafka.alerts_topic, settings.kafka.bootstrap_servers
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value in values:  # one key: one partition, the order kept
        producer.produce(topic, key=firing.fingerprint.encode(), value=value)
    assert producer.flush(30) == 0
    group = f"notifier_{unique_name}"
    dead_letter = tmp_path / "dead.jsonl"
    log = tmp_path / "alerts-run.log"
    with http_server(_receiver) as server:
        # A critical-only endpoint: the warning changes are not for it.
        pager = {
            "name": "pager",
            "url": f"{server.url}/pager",
            "secret": OTHER_SECRET,
            "min_severity": "critical",
        }
        env = cityiot_env(
            tmp_path,
            CITYIOT_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            CITYIOT_KAFKA_ALERTS_TOPIC=topic,
            CITYIOT_ALERT_NOTIFIER_GROUP=group,
            CITYIOT_ALERT_WEBHOOKS=_endpoints(server.url, pager),
            CITYIOT_ALERT_DEAD_LETTER_PATH=str(dead_letter),
        )
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cityiot", "alerts", "run", "--loglevel", "info"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        try:
            eventually(
                lambda: len(server.on("/ops")) >= 2 or proc.poll() is not None,
                what=f"both changes delivered to ops (log {log})",
            )
            assert proc.poll() is None, log.read_text()
            proc.send_signal(signal.SIGTERM)
            stdout, _ = proc.communicate(timeout=STOP_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, log.read_text()
    assert stdout.decode().strip() == (
        f"stopped: 2 notifications submitted; dead letters: {dead_letter}"
    )
    got = server.requests
    assert [r.path for r in got] == ["/ops", "/ops"]
    assert all(_signed(r, SECRET) for r in got)
    assert [r.headers["idempotency-key"] for r in got] == [
        firing.idempotency_key,
        resolved.idempotency_key,
    ]
    assert [Alert.model_validate_json(r.body) for r in got] == [firing, resolved]
    assert not dead_letter.exists()
    assert _committed(bootstrap, topic, group) == len(values)
    _secrets_absent(stdout.decode(), log.read_text())
