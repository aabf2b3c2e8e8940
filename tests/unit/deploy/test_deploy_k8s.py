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

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
# A recent release whose schemas kubernetes-validate bundles (no network needed).
K8S_VERSION = "1.33.0"


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
    broken = copy.deepcopy(resources[("Deployment", "cityiot-collector")])
    _container(broken)["resorces"] = _container(broken).pop("resources")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_k8s_collectors_deployment_client_id_from_pod_name(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Collectors: 2 replicas, client id from the pod name, password from the Secret, HPA on CPU."""
    deployment = resources[("Deployment", "cityiot-collector")]
    assert deployment["spec"]["replicas"] == 2
    container = _container(deployment)
    assert container["args"] == ["collect"]
    env = {item["name"]: item for item in container["env"]}
    assert env["CITYIOT_COLLECTOR_CLIENT_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.name"
    )
    assert env["CITYIOT_MQTT_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        "cityiot-credentials"
    )
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    hpa = resources[("HorizontalPodAutoscaler", "cityiot-collector")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "cityiot-collector"
    assert hpa["spec"]["minReplicas"] == 2
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


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
    """Both workloads have liveness and readiness probes on a port they declare, and a Service."""
    config = resources[("ConfigMap", "cityiot-config")]["data"]
    for kind, name in (("Deployment", "cityiot-collector"), ("StatefulSet", "cityiot-streams")):
        container = _container(resources[(kind, name)])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            action = container[probe].get("httpGet") or container[probe]["tcpSocket"]
            assert action["port"] in ports, (name, probe)
        selected = [
            svc
            for (k, _), svc in resources.items()
            if k == "Service" and svc["spec"]["selector"]["app.kubernetes.io/name"] == name
        ]
        assert selected, name
    collector_ports = _container(resources[("Deployment", "cityiot-collector")])["ports"]
    assert str(collector_ports[0]["containerPort"]) == config["CITYIOT_COLLECTOR_METRICS_PORT"]


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
    for kind, name in (("Deployment", "cityiot-collector"), ("StatefulSet", "cityiot-streams")):
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
