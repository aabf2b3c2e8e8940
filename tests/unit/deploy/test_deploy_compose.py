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

from cityiot.access.kafka_users import KAFKA_USERS

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_DIR = ROOT / "deploy" / "compose"
SCHEMA = Path(__file__).with_name("compose-spec.json")
CITYIOT_SERVICES = ("collector-1", "collector-2", "streams-1", "streams-2", "simulator")
# Runs the cityiot image once per start: the Kafka ACLs of every service user.
ONE_SHOT = "kafka-acls"
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
    assert set(services) == {*INFRA_IMAGES, *CITYIOT_SERVICES, ONE_SHOT}
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
    acls = services[ONE_SHOT]
    assert acls["image"] == "${CITYIOT_IMAGE:-cityiot:dev}"
    assert acls["entrypoint"] == ["python", "-m", "cityiot.access.kafka_acls_job"]
    assert acls["restart"] == "no"
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


def test_compose_kafka_runs_kraft_with_sasl_scram_and_acls(compose: dict[str, Any]) -> None:
    """Kafka is one KRaft node (broker + controller, its own quorum), no ZooKeeper, started by
    kafka/start.sh: clients on SASL/SCRAM only, ACLs required, one SCRAM user per service from
    its secret (tests/integration/deploy runs the script on a real Kafka)."""
    kafka = compose["services"]["kafka"]
    assert kafka["command"] == ["/bin/bash", "/cityiot/kafka/start.sh"]
    assert "./kafka/start.sh:/cityiot/kafka/start.sh:ro" in kafka["volumes"]
    assert "CLUSTER_ID" in kafka["environment"]
    assert not any("ZOOKEEPER" in key for key in kafka["environment"])
    script = (COMPOSE_DIR / "kafka" / "start.sh").read_text()
    for line in (
        "process.roles=broker,controller",
        "controller.quorum.voters=1@${advertised}:${controller_port}",
        "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        "super.users=User:cityiot-admin",
    ):
        assert f"\n{line}\n" in script, line
    assert "PLAINTEXT:PLAINTEXT" not in script
    users = {f"cityiot-{u}" for u in re.findall(r"^users=\((.*)\)$", script, re.M)[0].split()}
    assert users == set(KAFKA_USERS)
    assert set(kafka["secrets"]) == {f"kafka_{u.removeprefix('cityiot-')}_password" for u in users}
    assert "--command-config" in " ".join(kafka["healthcheck"]["test"])


def test_compose_services_log_in_as_their_own_users(compose: dict[str, Any]) -> None:
    """Collectors are Kafka's cityiot-collector, workers cityiot-streams and InfluxDB's
    write-only cityiot-writer, Grafana the read-only cityiot-reader; each password is a Compose
    secret mounted in that service only, read through *_PASSWORD_FILE."""
    services = compose["services"]
    expected = {
        "collector-1": {"CITYIOT_KAFKA_USERNAME": "cityiot-collector"},
        "streams-1": {
            "CITYIOT_KAFKA_USERNAME": "cityiot-streams",
            "CITYIOT_INFLUXDB_USERNAME": "cityiot-writer",
        },
        ONE_SHOT: {"CITYIOT_KAFKA_USERNAME": "cityiot-admin"},
    }
    for name, users in expected.items():
        env = services[name]["environment"]
        assert env["CITYIOT_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        for variable, user in users.items():
            assert env[variable] == user, (name, variable)
            password_file = env[variable.replace("USERNAME", "PASSWORD_FILE")]
            secret = password_file.removeprefix("/run/secrets/")
            assert secret in services[name]["secrets"], (name, secret)
        assert "CITYIOT_INFLUXDB_TOKEN" not in env
    assert services["streams-1"]["secrets"] == services["streams-2"]["secrets"]
    assert (
        services[ONE_SHOT]["environment"]["CITYIOT_STREAM_APP_ID"]
        == (services["streams-1"]["environment"]["CITYIOT_STREAM_APP_ID"])
    )
    datasource = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/cityiot.yaml").read_text()
    )["datasources"][0]
    assert datasource["user"] == "cityiot-reader"
    assert datasource["secureJsonData"] == {
        "password": "$__file{/run/secrets/influxdb_reader_password}"
    }
    assert services["grafana"]["secrets"] == ["grafana_admin_password", "influxdb_reader_password"]
    files = {name: spec["file"] for name, spec in compose["secrets"].items()}
    assert files["influxdb_writer_password"] != files["influxdb_reader_password"]


def test_compose_influxdb_initialises_bucket_city_from_secrets(compose: dict[str, Any]) -> None:
    """InfluxDB 2.x sets up org, bucket city and its token, password and token from secret files."""
    influx = compose["services"]["influxdb"]
    env = influx["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == "${INFLUXDB_BUCKET:-city}"
    assert env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE"] == "/run/secrets/influxdb_token"
    assert env["DOCKER_INFLUXDB_INIT_PASSWORD_FILE"] == "/run/secrets/influxdb_admin_password"
    assert set(influx["secrets"]) == {
        "influxdb_admin_password",
        "influxdb_token",
        "influxdb_writer_password",
        "influxdb_reader_password",
    }
    assert all("file" in spec for spec in compose["secrets"].values())


def test_compose_influxdb_setup_makes_a_writer_and_a_reader(compose: dict[str, Any]) -> None:
    """At setup the image runs cityiot-users.sh: a v1 user that may only write the bucket and
    one that may only read it, passwords from their secrets (never on this file's lines)."""
    mounts = compose["services"]["influxdb"]["volumes"]
    target = "/docker-entrypoint-initdb.d/cityiot-users.sh"
    assert f"./influxdb/cityiot-users.sh:{target}:ro" in mounts
    script = (COMPOSE_DIR / "influxdb" / "cityiot-users.sh").read_text()
    assert "create cityiot-writer --write-bucket influxdb_writer_password" in script
    assert "create cityiot-reader --read-bucket influxdb_reader_password" in script
    assert "influx v1 auth create" in script
    assert "set -euo pipefail" in script


def test_compose_no_literal_secrets(compose: dict[str, Any]) -> None:
    """No password or token value is written in compose.yaml: only files and env files."""
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        for key, value in env.items():
            if SECRET_NAMES.search(key):
                pytest.fail(f"{name}: {key}={value!r} inline; use env_file or a *_FILE secret")
    for name in (*CITYIOT_SERVICES, ONE_SHOT):
        service = compose["services"][name]
        files = [v for k, v in service["environment"].items() if k.endswith("_PASSWORD_FILE")]
        assert all(f.startswith("/run/secrets/") for f in files), name
        assert "env_file" in service or files, f"{name}: no secret from a file"
        for env_file in service.get("env_file", []):
            assert env_file.startswith("./secrets/"), name
    assert "cityiot-collector.password" not in (COMPOSE_DIR / "compose.yaml").read_text().replace(
        "$$(cat /mosquitto/auth/secrets/cityiot-probe.password)", ""
    )


def test_compose_healthchecks_present(compose: dict[str, Any]) -> None:
    """Every infra service has a health check; cityiot services use the image's, with a port."""
    services = compose["services"]
    for name in INFRA_IMAGES:
        assert services[name]["healthcheck"]["test"], name
    assert "HEALTHCHECK " in (ROOT / "Dockerfile").read_text()
    # The image's check asks /healthz on the port these set (tests/integration/deploy runs it).
    assert services["streams-1"]["environment"]["CITYIOT_STREAM_METRICS_PORT"]
    assert services["collector-1"]["environment"]["CITYIOT_COLLECTOR_METRICS_PORT"]
    deps = services["collector-1"]["depends_on"]
    # Healthy servers, and the Kafka ACLs in place (a one-shot service completes).
    assert {name: d["condition"] for name, d in deps.items() if name != ONE_SHOT} == {
        "mosquitto": "service_healthy",
        "kafka": "service_healthy",
    }
    assert deps[ONE_SHOT]["condition"] == "service_completed_successfully"


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
    assert not (secrets / "streams.env").exists()  # the workers read *_PASSWORD_FILE secrets
    users = [f"kafka-{u.removeprefix('cityiot-')}-password" for u in KAFKA_USERS]
    users += ["influxdb-writer-password", "influxdb-reader-password"]
    passwords = {name: (secrets / name).read_text().strip() for name in users}
    assert all(len(p) >= 32 for p in passwords.values())
    assert len(set(passwords.values())) == len(users)
    assert (secrets / "simulator.env").read_text() == ""
    assert oct((secrets).stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in secrets.iterdir()} == {"0o600"}
    assert (work / "data" / "mosquitto").is_dir()
    assert f"HOST_UID={os.getuid()}" in (work / ".env").read_text()
    assert token not in run.stdout + run.stderr
    assert all(p not in run.stdout + run.stderr for p in passwords.values())
    subprocess.run([str(work / "prepare.sh")], capture_output=True, check=True)
    assert (secrets / "influxdb-admin-token").read_text().strip() == token
    assert {name: (secrets / name).read_text().strip() for name in users} == passwords


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
