"""deploy/compose: schema-valid, every service wired as docs/deploy.md says, no secret inline."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_DIR = ROOT / "deploy" / "compose"
SCHEMA = Path(__file__).with_name("compose-spec.json")
CITYIOT_SERVICES = ("collector-1", "collector-2", "streams-1", "streams-2", "simulator")
INFRA_IMAGES = {
    "mosquitto": "eclipse-mosquitto:2",
    "kafka": "apache/kafka:",
    "influxdb": "influxdb:2.7",
    "grafana": "grafana/grafana-oss:",
}
# Variables whose values are secrets: they may come only from env files or *_FILE secrets.
SECRET_NAMES = re.compile(r"(PASSWORD|TOKEN|SECRET)$")


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE_DIR / name).read_text())
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load("compose.yaml")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft201909Validator:
    return jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))


@pytest.mark.parametrize("name", ["compose.yaml", "compose.influxdb3.yaml"])
def test_compose_matches_compose_spec_schema(
    name: str, validator: jsonschema.Draft201909Validator
) -> None:
    """Both Compose files validate against the Compose Specification's JSON Schema."""
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_load(name))]
    assert errors == []


def test_compose_schema_rejects_misspelt_key(
    compose: dict[str, Any], validator: jsonschema.Draft201909Validator
) -> None:
    """The schema check has teeth: a misspelt service key fails it."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["kafka"]["enviroment"] = broken["services"]["kafka"].pop("environment")
    assert not validator.is_valid(broken)


def test_compose_services_images_and_commands(compose: dict[str, Any]) -> None:
    """Infra services run their official images; cityiot services run one image, one command."""
    services = compose["services"]
    assert set(services) == {*INFRA_IMAGES, *CITYIOT_SERVICES}
    for name, image in INFRA_IMAGES.items():
        assert services[name]["image"].startswith(image), name
    commands = {name: services[name]["command"] for name in CITYIOT_SERVICES}
    assert commands == {
        "collector-1": ["collect"],
        "collector-2": ["collect"],
        "streams-1": ["stream"],
        "streams-2": ["stream"],
        "simulator": ["simulate"],
    }
    assert {services[name]["image"] for name in CITYIOT_SERVICES} == {
        "${CITYIOT_IMAGE:-cityiot:dev}"
    }
    assert services["collector-1"]["build"]["context"] == "../.."
    assert services["simulator"]["profiles"] == ["demo"]
    assert all("profiles" not in services[name] for name in services if name != "simulator")


def test_compose_collectors_share_group_with_distinct_client_ids(compose: dict[str, Any]) -> None:
    """Both collectors use one shared-subscription group and a client id of their own."""
    envs = [compose["services"][name]["environment"] for name in ("collector-1", "collector-2")]
    assert envs[0]["CITYIOT_COLLECTOR_GROUP"] == envs[1]["CITYIOT_COLLECTOR_GROUP"]
    assert envs[0]["CITYIOT_COLLECTOR_CLIENT_ID"] != envs[1]["CITYIOT_COLLECTOR_CLIENT_ID"]
    for env in envs:
        assert env["CITYIOT_MQTT_URL"].startswith("mqtts://mosquitto:8883")
        assert env["CITYIOT_MQTT_USERNAME"] == "cityiot-collector"


def test_compose_streams_share_app_id_with_own_state(compose: dict[str, Any]) -> None:
    """Both workers join one Faust app (consumer group); each keeps table state in its volume."""
    workers = [compose["services"][name] for name in ("streams-1", "streams-2")]
    assert (
        workers[0]["environment"]["CITYIOT_STREAM_APP_ID"]
        == (workers[1]["environment"]["CITYIOT_STREAM_APP_ID"])
    )
    mounts = [w["volumes"][0] for w in workers]
    assert mounts == ["streams-1-data:/var/lib/cityiot", "streams-2-data:/var/lib/cityiot"]


def test_compose_kafka_runs_kraft(compose: dict[str, Any]) -> None:
    """Kafka is one KRaft node (broker + controller, its own quorum), no ZooKeeper."""
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert "CLUSTER_ID" in env
    assert not any("ZOOKEEPER" in key for key in env)


def test_compose_influxdb_initialises_bucket_city_from_secrets(compose: dict[str, Any]) -> None:
    """InfluxDB 2.x sets up org, bucket city and its token, password and token from secret files."""
    influx = compose["services"]["influxdb"]
    env = influx["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == "${INFLUXDB_BUCKET:-city}"
    assert env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE"] == "/run/secrets/influxdb_token"
    assert env["DOCKER_INFLUXDB_INIT_PASSWORD_FILE"] == "/run/secrets/influxdb_admin_password"
    assert set(influx["secrets"]) == {"influxdb_admin_password", "influxdb_token"}
    assert all("file" in spec for spec in compose["secrets"].values())


def test_compose_no_literal_secrets(compose: dict[str, Any]) -> None:
    """No password or token value is written in compose.yaml: only files and env files."""
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        for key, value in env.items():
            if SECRET_NAMES.search(key):
                pytest.fail(f"{name}: {key}={value!r} inline; use env_file or a *_FILE secret")
    for name in CITYIOT_SERVICES:
        assert compose["services"][name]["env_file"][0].startswith("./secrets/"), name
    assert "cityiot-collector.password" not in (COMPOSE_DIR / "compose.yaml").read_text().replace(
        "$$(cat /mosquitto/auth/secrets/cityiot-probe.password)", ""
    )


def test_compose_healthchecks_present(compose: dict[str, Any]) -> None:
    """Every infra service has a health check; cityiot services use the image's, with a port."""
    services = compose["services"]
    for name in INFRA_IMAGES:
        assert services[name]["healthcheck"]["test"], name
    assert "HEALTHCHECK " in (ROOT / "Dockerfile").read_text()
    assert services["streams-1"]["environment"]["HEALTHCHECK_PORT"]
    assert services["collector-1"]["environment"]["CITYIOT_COLLECTOR_METRICS_PORT"]
    deps = services["collector-1"]["depends_on"]
    assert {d["condition"] for d in deps.values()} == {"service_healthy"}


def test_compose_mosquitto_mounts_no_ca_key(compose: dict[str, Any]) -> None:
    """Mosquitto gets ca.crt, server.crt and server.key only; it runs as the files' owner."""
    mosquitto = compose["services"]["mosquitto"]
    mounts = " ".join(mosquitto["volumes"])
    all_mounts = [m for service in compose["services"].values() for m in service.get("volumes", [])]
    assert not any("ca.key" in mount for mount in all_mounts)
    for target in (
        "/mosquitto/tls/ca.crt",
        "/mosquitto/tls/server.crt",
        "/mosquitto/tls/server.key",
    ):
        assert f":{target}:ro" in mounts
    assert mosquitto["user"] == "${HOST_UID:-1000}:${HOST_GID:-1000}"
    assert mosquitto["ports"] == [
        "${MQTT_TLS_PORT:-8883}:8883",
        "${MQTT_DEVICE_TLS_PORT:-8884}:8884",
    ]


def test_compose_grafana_mounts_provisioning(compose: dict[str, Any]) -> None:
    """Grafana reads deploy/grafana/provisioning and the built dashboards, read-only."""
    volumes = compose["services"]["grafana"]["volumes"]
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    assert "../grafana/dashboards:/var/lib/grafana/dashboards:ro" in volumes


def test_compose_env_example_documents_every_variable(compose: dict[str, Any]) -> None:
    """Each ${VAR} used by the Compose files has a documented default in .env.example."""
    example = (COMPOSE_DIR / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    used: set[str] = set()
    for name in ("compose.yaml", "compose.influxdb3.yaml"):
        used |= set(re.findall(r"\$\{([A-Z0-9_]+)", (COMPOSE_DIR / name).read_text()))
    assert used - documented == set()
    assert not any(SECRET_NAMES.search(name) for name in documented)


def test_compose_prepare_writes_secrets_0600(tmp_path: Path) -> None:
    """prepare.sh fills secrets/ from `cityiot acl` files, 0600, and keeps them on a re-run."""
    work = tmp_path / "compose"
    work.mkdir()
    for name in ("prepare.sh", ".env.example"):
        (work / name).write_bytes((COMPOSE_DIR / name).read_bytes())
    os.chmod(work / "prepare.sh", 0o700)
    auth = work / "mqtt-auth"
    (auth / "secrets").mkdir(parents=True)
    (auth / "mosquitto.passwd").write_text("cityiot-collector:$7$hash\n")
    (auth / "secrets" / "cityiot-collector.password").write_text("collector-pw\n")
    (work / "tls").mkdir()
    for name in ("ca.crt", "server.crt"):
        (work / "tls" / name).write_text("pem")
    run = subprocess.run([str(work / "prepare.sh")], capture_output=True, text=True, check=True)
    secrets = work / "secrets"
    assert (secrets / "collector.env").read_text() == "CITYIOT_MQTT_PASSWORD=collector-pw\n"
    token = (secrets / "influxdb-admin-token").read_text().strip()
    assert len(token) >= 32
    assert (secrets / "streams.env").read_text() == f"CITYIOT_INFLUXDB_TOKEN={token}\n"
    assert (secrets / "simulator.env").read_text() == ""
    assert oct((secrets).stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in secrets.iterdir()} == {"0o600"}
    assert (work / "data" / "mosquitto").is_dir()
    assert f"HOST_UID={os.getuid()}" in (work / ".env").read_text()
    assert token not in run.stdout + run.stderr
    subprocess.run([str(work / "prepare.sh")], capture_output=True, check=True)
    assert (secrets / "influxdb-admin-token").read_text().strip() == token


def test_compose_prepare_names_missing_acl(tmp_path: Path) -> None:
    """prepare.sh without `cityiot acl` output fails with the command that fixes it."""
    (tmp_path / "prepare.sh").write_bytes((COMPOSE_DIR / "prepare.sh").read_bytes())
    os.chmod(tmp_path / "prepare.sh", 0o700)
    run = subprocess.run([str(tmp_path / "prepare.sh")], capture_output=True, text=True)
    assert run.returncode == 1
    assert "fix: cityiot acl" in run.stderr


def test_compose_grafana_provides_what_provisioning_reads(compose: dict[str, Any]) -> None:
    """Each ${VAR} and $__file{/run/secrets/X} in Grafana provisioning files is given to Grafana."""
    grafana = compose["services"]["grafana"]
    texts = [p.read_text() for p in (ROOT / "deploy" / "grafana" / "provisioning").rglob("*.y*ml")]
    variables = {v for text in texts for v in re.findall(r"\$\{([A-Z0-9_]+)\}", text)}
    files = {f for text in texts for f in re.findall(r"\$__file\{/run/secrets/([^}]+)\}", text)}
    assert variables <= set(grafana["environment"])
    assert files <= set(grafana["secrets"])
