"""core/settings/env.py: a Settings object → CITYIOT_* variables → the same Settings, lists and
secrets included, in this process and in a child."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.settings import Settings
from core.settings.env import env_name, to_env

# A *_FILE secret must name a readable file (read when the settings are built).
SECRET_FILE = str(Path(__file__).with_name("data") / "not-a-secret.txt")
# Every field set to a value other than its default, so each one's spelling is exercised.
EVERY_FIELD = {
    "mqtt": {
        "url": "mqtts://broker.example:8883",
        "username": "collectors",
        "password": "mqtt pass with spaces",
        "tls_ca_file": "/etc/cityiot/ca.pem",
        "tls_cert_file": "/etc/cityiot/client.pem",
        "tls_key_file": "/etc/cityiot/client.key",
        "protocol": "3.1.1",
        "topic_prefix": "ningbo",
        "auth_dir": "/etc/cityiot/mqtt-auth",
    },
    "kafka": {
        "bootstrap_servers": "k1:9092,k2:9092",
        "events_topic": "e.v1",
        "deadletter_topic": "d.v1",
        "alerts_topic": "a.v1",
        "partitions": 12,
        "local": "tansu",
        "replication_factor": 3,
        "min_insync_replicas": 2,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "username": "cityiot-streams",
        "password": "kafka pass",
        "password_file": SECRET_FILE,
        "ssl_ca_file": "/etc/cityiot/kafka-ca.pem",
        "auth_dir": "/etc/cityiot/kafka-auth",
    },
    "influxdb": {
        "url": "https://influx.example:8086",
        "database": "ningbo",
        "username": "writer",
        "password": "influx-pass",
        "password_file": SECRET_FILE,
        "token": "influx-token==",
        "token_file": SECRET_FILE,
        "auth_dir": "/etc/cityiot/influxdb-auth",
    },
    "collector": {
        "group": "g",
        "client_id": "collector-7",
        "max_in_flight": 10,
        "session_expiry_s": 60,
        "keepalive_s": 10,
        "reconnect_min_delay_s": 2,
        "reconnect_max_delay_s": 4,
        "max_payload_bytes": 1024,
        "deadletter_payload_limit_bytes": 100,
        "rate_limit_per_s": 0.5,
        "rate_limit_burst": 3,
        "vendor_rate_limit_per_s": 50.0,
        "vendor_rate_limit_burst": 500,
        "vendor_rate_limits": {"hellobike": 200.0},
        "unknown_devices": "accept",
        "adapters_dir": "/etc/cityiot/adapters",
        "linger_ms": 0,
        "idempotent_producer": False,
        "metrics_port": 9464,
        "metrics_host": "0.0.0.0",
        "liveness_timeout_s": 30.0,
        "summary_interval_s": 0.0,
        "shutdown_timeout_s": 1.5,
    },
    "stream": {
        "app_id": "streams-b",
        "allowed_lateness_s": 5,
        "batch_max_events": 7,
        "fetch_max_wait_ms": 99,
        "fetch_min_bytes": 512,
        "summary_interval_s": 7.0,
        "stop_timeout_s": 6.0,
        "max_fetch_bytes": 2048,
        "commit_interval_s": 0.25,
        "rebalance_timeout_s": 5.0,
        "session_timeout_s": 6.0,
        "heartbeat_interval_s": 1.0,
        "standby_replicas": 1,
        "processing_guarantee": "exactly_once",
        "data_dir": "/var/lib/cityiot/streams",
        "dedup_missing_max": 3,
        "dedup_reset_distance": 9,
        "influx_api": "v2",
        "influx_org": "city",
        "influx_batch_lines": 11,
        "influx_timeout_s": 2.5,
        "influx_retry_initial_s": 0.1,
        "influx_retry_max_s": 0.2,
        "health_interval_s": 1.0,
        "default_expected_interval_s": 60,
        "stats_interval_s": 2.0,
        "instance_id": "host-1:streams-b",
        "metrics_port": 9465,
        "liveness_timeout_s": 45.0,
    },
    "alert": {
        "rules_path": "/etc/cityiot/rules.yaml",
        "webhooks": [
            {
                "name": "ops",
                "url": "https://hooks.example/ops?token=s3cr3t",
                "secret": 'hmac key, with "quotes" and 中文',
                "timeout_s": 2.0,
                "retries": 1,
                "backoff_initial_s": 0.5,
                "backoff_max_s": 4.0,
                "min_severity": "critical",
                "match_labels": {"district": "海曙区", "facility": "vending"},
                "send_resolved": False,
                "queue_size": 10,
            },
            {"name": "robot", "url": "https://oapi.dingtalk.com/robot/send", "format": "dingtalk"},
        ],
        "webhooks_file": "/etc/cityiot/webhooks.yaml",
        "tick_interval_s": 5.0,
        "notifier_group": "notifier-b",
        "dead_letter_path": "/var/lib/cityiot/dead.jsonl",
        "delivery_log_path": "/var/lib/cityiot/deliveries.jsonl",
    },
    "grafana": {"url": "https://grafana.example/grafana", "token": "glsa_token", "org": 2},
    "gateway": {
        "listen_host": "0.0.0.0",
        "listen_port": 7611,
        "vendor": "nbbus",
        "idle_timeout_s": 300.0,
        "auth": "open",
        "auth_secret": "jt808 secret",
        "mapping_path": "/etc/cityiot/terminals.csv",
        "max_connections": 50000,
        "publish_timeout_s": 10.0,
    },
    "run_dir": "/var/lib/cityiot",
    "registry_path": "/etc/cityiot/registry.csv",
    "districts_path": "/etc/cityiot/districts.geojson",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CITYIOT_* variable from the test runner's own environment."""
    for name in list(os.environ):
        if name.startswith("CITYIOT_"):
            monkeypatch.delenv(name)
    return monkeypatch


def _leaves(settings: Settings) -> list[tuple[str, object]]:
    """(variable, value) of every setting."""
    return [
        (env_name(field, name) if field else env_name(name), inner)
        for name, value in settings
        for field, inner in (value if isinstance(value, BaseModel) else [(None, value)])
    ]


def test_settings_env_every_field_is_set_off_default() -> None:
    """The fixture above covers every setting (a new field needs a value there)."""
    pairs = zip(_leaves(Settings(**EVERY_FIELD)), _leaves(Settings()), strict=True)
    same = [name for (name, value), (_, default) in pairs if value == default]
    assert same == [], f"give these a non-default value in EVERY_FIELD: {same}"


@pytest.mark.parametrize("values", [EVERY_FIELD, {}], ids=["every-field", "defaults"])
def test_settings_env_round_trip(clean_env: pytest.MonkeyPatch, values: dict[str, object]) -> None:
    """Settings → CITYIOT_* → Settings gives back equal settings, webhooks and secrets included."""
    settings = Settings(**values)
    for name, value in to_env(settings).items():
        clean_env.setenv(name, value)
    assert Settings() == settings


def test_settings_env_secrets_and_lists_in_clear() -> None:
    """Secrets are written in clear (for our own children) and lists as JSON."""
    env = to_env(Settings(**EVERY_FIELD))
    assert env["CITYIOT_MQTT_PASSWORD"] == "mqtt pass with spaces"
    assert env["CITYIOT_GRAFANA_TOKEN"] == "glsa_token"
    webhooks = json.loads(env["CITYIOT_ALERT_WEBHOOKS"])
    assert webhooks[0]["url"] == "https://hooks.example/ops?token=s3cr3t"
    assert webhooks[0]["match_labels"] == {"district": "海曙区", "facility": "vending"}
    assert env["CITYIOT_COLLECTOR_IDEMPOTENT_PRODUCER"] == "false"
    assert env["CITYIOT_RUN_DIR"] == "/var/lib/cityiot"


def test_settings_env_rebuilds_settings_in_a_child_process(tmp_path: Path) -> None:
    """A child started with the environment reads the same settings (compared through to_env)."""
    settings = Settings(**EVERY_FIELD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from core.settings import Settings; from core.settings.env import "
            "to_env; print(json.dumps(to_env(Settings())))",
        ],
        env={**env, **to_env(settings)},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert json.loads(child.stdout) == to_env(settings)
