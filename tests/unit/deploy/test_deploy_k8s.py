"""deploy/k8s: every manifest valid for Kubernetes 1.33 (strict, offline) and wired right."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from cityiot.access.kafka_users import KafkaAcl, service_acls
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
# The one-off Job that drains a removed collector's session (not in K8S's kustomization).
DRAIN = K8S / "drain"
# A recent release whose schemas kubernetes-validate bundles (no network needed).
K8S_VERSION = "1.33.0"
# cityiot's long-running processes: (kind, name) of each workload and the variable of its port.
WORKLOADS = {
    ("StatefulSet", "cityiot-collector"): "CITYIOT_COLLECTOR_METRICS_PORT",
    ("StatefulSet", "cityiot-streams"): "CITYIOT_STREAM_METRICS_PORT",
}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return data


@pytest.fixture(scope="module")
def resources(kustomization: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for doc in _docs(K8S / name):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_k8s_kustomization_lists_every_manifest(kustomization: dict[str, Any]) -> None:
    """kustomization.yaml names every manifest in deploy/k8s, and only existing ones."""
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
    assert kustomization["namespace"] == "cityiot"


def test_k8s_manifests_validate_strict(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Every resource passes kubernetes-validate's strict schema (unknown fields rejected)."""
    assert len(resources) >= 11
    for doc in resources.values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_k8s_validation_rejects_misspelt_field(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The check has teeth: a misspelt container field fails strict validation."""
    broken = copy.deepcopy(resources[("StatefulSet", "cityiot-collector")])
    _container(broken)["resorces"] = _container(broken).pop("resources")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_k8s_collectors_statefulset_client_id_from_stable_pod_name(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Collectors: a StatefulSet of 2 (stable pod names, a headless Service), client id from the
    pod name, so a replacement pod resumes its MQTT session; password from the Secret."""
    sts = resources[("StatefulSet", "cityiot-collector")]
    assert ("Deployment", "cityiot-collector") not in resources
    assert sts["spec"]["replicas"] == 2
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    headless = resources[("Service", sts["spec"]["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    container = _container(sts)
    assert container["args"] == ["collect"]
    env = {item["name"]: item for item in container["env"]}
    assert env["CITYIOT_COLLECTOR_CLIENT_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.name"
    )
    assert env["CITYIOT_MQTT_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        "cityiot-credentials"
    )
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}


def test_k8s_collectors_have_no_autoscaler(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """No HorizontalPodAutoscaler: a scale-down leaves a subscribed session that needs a drain
    (docs/deploy.md, "Removing a collector"), which an autoscaler cannot do."""
    autoscalers = [doc for (kind, _), doc in resources.items() if kind == "HorizontalPodAutoscaler"]
    assert autoscalers == []
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert "### Removing a collector" in docs


def test_k8s_drain_job_runs_the_statefulset_collector(
    resources: dict[tuple[str, str], dict[str, Any]], kustomization: dict[str, Any]
) -> None:
    """The drain Job (deploy/k8s/drain) is the StatefulSet's collector (image, settings, users,
    secrets, mounts) under a removed replica's client id with session expiry 0, no probes, and
    labels of its own; valid, and rendered with the same image."""
    (job,) = _docs(DRAIN / "collector-drain.yaml")
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    sts = resources[("StatefulSet", "cityiot-collector")]
    pod, job_pod = sts["spec"]["template"]["spec"], job["spec"]["template"]["spec"]
    for key in ("securityContext", "volumes", "automountServiceAccountToken"):
        assert job_pod.get(key) == pod.get(key), key
    container, drain = _container(sts), _container(job)
    own = {"env", "ports", "startupProbe", "livenessProbe", "readinessProbe"}
    assert {k: v for k, v in drain.items() if k not in own} == {
        k: v for k, v in container.items() if k not in own
    }
    env = {e["name"]: e for e in container["env"]}
    drain_env = {e["name"]: e for e in drain["env"]}
    assert env.pop("CITYIOT_COLLECTOR_CLIENT_ID")["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.name"
    )
    assert drain_env.pop("CITYIOT_COLLECTOR_CLIENT_ID")["value"] == (
        f"{sts['metadata']['name']}-REPLACE_WITH_ORDINAL"
    )
    assert drain_env.pop("CITYIOT_COLLECTOR_SESSION_EXPIRY_S")["value"] == "0"
    assert drain_env == env
    selector = sts["spec"]["selector"]["matchLabels"]
    assert not selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    drain_kustomization = yaml.safe_load((DRAIN / "kustomization.yaml").read_text())
    assert drain_kustomization["images"] == kustomization["images"]
    assert drain_kustomization["namespace"] == kustomization["namespace"]


def test_k8s_disruption_budgets_one_at_a_time(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Collectors and streams workers each have a PodDisruptionBudget: one pod at a time, and
    unready pods (a broker away) may be evicted so that a node drain never waits for a broker."""
    budgets = [doc for (kind, _), doc in resources.items() if kind == "PodDisruptionBudget"]
    for kind, name in WORKLOADS:
        workload = resources[(kind, name)]
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        (budget,) = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        ]
        assert budget["spec"]["maxUnavailable"] == 1, name
        assert "minAvailable" not in budget["spec"], name
        assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow", name


def test_k8s_kafka_durability_settings(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Topics are created with 3 replicas and min.insync.replicas 2 (survive one broker)."""
    config = resources[("ConfigMap", "cityiot-config")]["data"]
    assert config["CITYIOT_KAFKA_REPLICATION_FACTOR"] == "3"
    assert config["CITYIOT_KAFKA_MIN_INSYNC_REPLICAS"] == "2"


def test_k8s_streams_statefulset_keeps_table_state(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Streams: a StatefulSet with a headless Service and a PVC mounted at /var/lib/cityiot."""
    sts = resources[("StatefulSet", "cityiot-streams")]
    container = _container(sts)
    assert container["args"] == ["stream"]
    claim = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim] == "/var/lib/cityiot"
    headless = resources[("Service", sts["spec"]["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}


def test_k8s_probes_match_declared_ports(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Both workloads probe /healthz (startup, liveness) and /readyz (readiness) over HTTP on the
    port they declare, which is the one the ConfigMap gives the process; a Service selects them.
    (tests/integration/deploy starts the processes and asks these probes for real.)"""
    config = resources[("ConfigMap", "cityiot-config")]["data"]
    paths = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for (kind, name), variable in WORKLOADS.items():
        container = _container(resources[(kind, name)])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe, path in paths.items():
            action = container[probe]["httpGet"]
            assert action["path"] == path, (name, probe)
            assert str(ports[action["port"]]) == config[variable], (name, probe)
            # Within the probe's timeout: the readiness checks bound their own waits (2 s).
            assert container[probe]["timeoutSeconds"] >= 3, (name, probe)
        selected = [
            svc
            for (k, _), svc in resources.items()
            if k == "Service" and svc["spec"]["selector"]["app.kubernetes.io/name"] == name
        ]
        assert selected, name
    # The kubelet probes the pod's address: the collector must not listen on loopback only (the
    # worker's server listens on every address).
    assert config["CITYIOT_COLLECTOR_METRICS_HOST"] in ("0.0.0.0", "::")


def test_k8s_secrets_are_placeholders_only(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Secret templates hold REPLACE_WITH_* placeholders; the ConfigMap holds no secret."""
    secrets = [doc for (kind, _), doc in resources.items() if kind == "Secret"]
    assert secrets
    for secret in secrets:
        assert "data" not in secret
        assert all(value.startswith("REPLACE_WITH_") for value in secret["stringData"].values())
    config = resources[("ConfigMap", "cityiot-config")]["data"]
    assert not any(key.endswith(("PASSWORD", "TOKEN")) for key in config)


def test_k8s_pods_run_non_root(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Pods run as the image's non-root user with a read-only root and no privilege escalation."""
    for kind, name in WORKLOADS:
        pod = resources[(kind, name)]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        context = _container(resources[(kind, name)])["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not on PATH")
def test_k8s_kustomize_build_validates() -> None:
    """`kubectl kustomize` renders the folder; each rendered resource is valid and namespaced."""
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=True
    ).stdout
    docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
    assert len(docs) >= 11
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "cityiot"
    images = {
        c["image"]
        for doc in docs
        if doc["kind"] in ("Deployment", "StatefulSet")
        for c in doc["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"registry.example.invalid/cityiot/cityiot:0.1.0"}


# -- authentication on every server -----------------------------------------------------------
def _env(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in _container(workload).get("env", [])}


def test_k8s_workloads_log_in_as_their_own_users(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Collectors are Kafka's cityiot-collector, workers cityiot-streams and InfluxDB's
    write-only cityiot-writer; every password comes from a key the Secret template has."""
    secret_keys = set(resources[("Secret", "cityiot-credentials")]["stringData"])
    expected = {
        ("StatefulSet", "cityiot-collector"): {"CITYIOT_KAFKA_USERNAME": "cityiot-collector"},
        ("StatefulSet", "cityiot-streams"): {
            "CITYIOT_KAFKA_USERNAME": "cityiot-streams",
            "CITYIOT_INFLUXDB_USERNAME": "cityiot-writer",
        },
    }
    for workload, users in expected.items():
        env = _env(resources[workload])
        for variable, user in users.items():
            assert env[variable]["value"] == user, (workload, variable)
            password = env[variable.replace("USERNAME", "PASSWORD")]["valueFrom"]["secretKeyRef"]
            assert password["name"] == "cityiot-credentials"
            assert password["key"] in secret_keys
        assert "CITYIOT_INFLUXDB_TOKEN" not in env


def test_k8s_kafka_over_tls_with_scram(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Every pod reaches Kafka with SASL_SSL and SCRAM-SHA-512, the brokers' CA mounted from
    its Secret where CITYIOT_KAFKA_SSL_CA_FILE points."""
    config = resources[("ConfigMap", "cityiot-config")]["data"]
    assert config["CITYIOT_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["CITYIOT_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    ca = Path(config["CITYIOT_KAFKA_SSL_CA_FILE"])
    assert "cityiot-kafka-tls" in {name for kind, name in resources if kind == "Secret"}
    for workload in WORKLOADS:
        pod = resources[workload]["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {
            m["mountPath"]: m["name"] for m in _container(resources[workload])["volumeMounts"]
        }
        volume = volumes[mounts[str(ca.parent)]]
        assert volume["secret"]["secretName"] == "cityiot-kafka-tls", workload
        assert [item["path"] for item in volume["secret"]["items"]] == [ca.name]


def _literal_secrets(node: Any, path: str = "") -> list[str]:
    """Paths of values under a password/token-like key that are written out, not referenced."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            secretish = any(word in str(key).lower() for word in ("password", "token"))
            if secretish and isinstance(value, str) and not value.startswith("REPLACE_WITH_"):
                found.append(where)
            found += _literal_secrets(value, where)
        if node.get("name", "").endswith(("PASSWORD", "TOKEN")) and "value" in node:
            found.append(f"{path}.value")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _literal_secrets(item, f"{path}[{index}]")
    return found


def test_k8s_no_secret_literal_in_any_manifest() -> None:
    """No password, token or key is written in any manifest under deploy/k8s: every one is a
    reference to a Secret, or a REPLACE_WITH_ placeholder in the Secret templates."""
    manifests = sorted(K8S.rglob("*.yaml"))
    assert len(manifests) >= 7
    for manifest in manifests:
        for doc in _docs(manifest):
            assert _literal_secrets(doc) == [], manifest.name


def test_k8s_secret_literal_check_has_teeth() -> None:
    """The check above finds a password written into an env entry or a Secret."""
    env = {"env": [{"name": "CITYIOT_KAFKA_PASSWORD", "value": "hunter2"}]}
    secret = {"stringData": {"kafka-streams-password": "hunter2"}}
    assert _literal_secrets(env) == [".env[0].value"]
    assert _literal_secrets(secret) == [".stringData.kafka-streams-password"]


def test_k8s_strimzi_users_grant_what_the_platform_grants() -> None:
    """strimzi/kafka-users.yaml: one SCRAM user per service, its password from a Secret, and
    exactly the ACLs cityiot/access/kafka_users.py gives for the ConfigMap's names."""
    config = _docs(K8S / "configmap.yaml")[0]["data"]
    settings = Settings(stream={"app_id": config["CITYIOT_STREAM_APP_ID"]})
    users = _docs(K8S / "strimzi" / "kafka-users.yaml")
    operations = {"Read": "READ", "Write": "WRITE", "Describe": "DESCRIBE", "Create": "CREATE"}
    granted = set()
    for user in users:
        assert user["kind"] == "KafkaUser"
        spec = user["spec"]
        assert spec["authentication"]["type"] == "scram-sha-512"
        assert "secretKeyRef" in spec["authentication"]["password"]["valueFrom"]
        assert spec["authorization"]["type"] == "simple"
        for acl in spec["authorization"]["acls"]:
            resource = acl["resource"]
            pattern = "literal" if resource["patternType"] == "literal" else "prefixed"
            assert acl["host"] == "*"
            for operation in acl["operations"]:
                granted.add(
                    KafkaAcl(
                        user["metadata"]["name"],
                        resource["type"],
                        resource["name"],
                        pattern,
                        operations[operation],
                    )
                )
    assert granted == set(service_acls(settings))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not on PATH")
def test_k8s_drain_kustomize_build_names_the_replica() -> None:
    """The documented command renders one valid Job for the replica named by its ordinal."""
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(DRAIN)], capture_output=True, text=True, check=True
    ).stdout.replace("REPLACE_WITH_ORDINAL", "2")
    (job,) = [doc for doc in yaml.safe_load_all(rendered) if doc]
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    assert job["metadata"] == {
        "name": "cityiot-collector-drain-2",
        "namespace": "cityiot",
        "labels": {
            "app.kubernetes.io/name": "cityiot-collector-drain",
            "app.kubernetes.io/component": "collector",
            "app.kubernetes.io/part-of": "cityiot",
        },
    }
    container = _container(job)
    assert container["image"] == "registry.example.invalid/cityiot/cityiot:0.1.0"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CITYIOT_COLLECTOR_CLIENT_ID"] == "cityiot-collector-2"
