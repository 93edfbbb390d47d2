"""Kubernetes manifests: the core objects validated against Kubernetes' own schemas
(kubernetes-validate, strict), the prometheus-operator objects against the fields that its API
reference documents, the PrometheusRule generated from rules.yml, and the DaemonSet's posture."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import ROOT

yaml = pytest.importorskip("yaml")
kv = pytest.importorskip("kubernetes_validate")
K8S = ROOT / "deploy" / "kubernetes"
VERSION = "1.33.0"  # the oldest Kubernetes this targets (kubernetes-validate ships its schemas)


def load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((K8S / name).read_text()))


def kustomized() -> list[str]:
    return list(load("kustomization.yaml")["resources"])


def test_the_kustomization_lists_every_manifest_and_only_those() -> None:
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomized()) == sorted(manifests)
    assert load("kustomization.yaml")["namespace"] == "spoofwatch"


@pytest.mark.parametrize(
    "name", ["namespace.yaml", "configmap.yaml", "daemonset.yaml", "service.yaml"]
)
def test_core_objects_are_valid_kubernetes(name: str) -> None:
    kv.validate(load(name), VERSION, strict=True)


def test_the_validator_would_catch_a_typo() -> None:
    broken = load("daemonset.yaml")
    broken["spec"]["template"]["spec"]["hostNetwrk"] = True
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, VERSION, strict=True)


def obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": False}  # fmt: skip


STR, ANY_OBJ = {"type": "string"}, {"type": "object"}
META = obj({"name": STR, "namespace": STR, "labels": ANY_OBJ, "annotations": ANY_OBJ}, ("name",))
# prometheus-operator's API reference, monitoring.coreos.com/v1 (ServiceMonitor, Endpoint).
ENDPOINT = obj({k: {} for k in (
    "port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout", "tlsConfig",
    "bearerTokenFile", "bearerTokenSecret", "authorization", "honorLabels", "honorTimestamps",
    "trackTimestampsStaleness", "basicAuth", "oauth2", "metricRelabelings", "relabelings",
    "proxyUrl", "noProxy", "proxyFromEnvironment", "proxyConnectHeader", "followRedirects",
    "enableHttp2", "filterRunning")})  # fmt: skip
SERVICE_MONITOR = obj({
    "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"},
    "metadata": META,
    "spec": obj({
        "jobLabel": STR, "targetLabels": {}, "podTargetLabels": {}, "sampleLimit": {},
        "targetLimit": {}, "labelLimit": {}, "labelNameLengthLimit": {}, "attachMetadata": {},
        "labelValueLengthLimit": {}, "keepDroppedTargets": {}, "scrapeClass": {},
        "bodySizeLimit": {}, "scrapeProtocols": {},
        "selector": obj({"matchLabels": ANY_OBJ, "matchExpressions": {}}),
        "namespaceSelector": obj({"any": {"type": "boolean"}, "matchNames": {"type": "array"}}),
        "endpoints": {"type": "array", "items": ENDPOINT, "minItems": 1},
    }, ("selector", "endpoints")),
}, ("apiVersion", "kind", "metadata", "spec"))  # fmt: skip
RULE = obj({"alert": STR, "record": STR, "expr": STR, "for": STR, "keep_firing_for": STR,
            "labels": ANY_OBJ, "annotations": ANY_OBJ}, ("expr",))  # fmt: skip
PROMETHEUS_RULE = obj({
    "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PrometheusRule"},
    "metadata": META,
    "spec": obj({"groups": {"type": "array", "items": obj({
        "name": STR, "interval": STR, "labels": ANY_OBJ, "limit": {}, "query_offset": STR,
        "partial_response_strategy": STR,
        "rules": {"type": "array", "items": RULE}}, ("name",))}}, ("groups",)),
}, ("apiVersion", "kind", "metadata", "spec"))  # fmt: skip


def test_the_prometheus_operator_objects_use_only_documented_fields() -> None:
    jsonschema.validate(load("servicemonitor.yaml"), SERVICE_MONITOR)
    jsonschema.validate(load("prometheusrule.yaml"), PROMETHEUS_RULE)
    wrong = copy.deepcopy(load("servicemonitor.yaml"))
    wrong["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, SERVICE_MONITOR)


def test_the_service_monitor_finds_the_service_and_names_the_job_the_rules_expect() -> None:
    monitor, service = load("servicemonitor.yaml"), load("service.yaml")
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert labels[monitor["spec"]["jobLabel"]] == "spoofwatch"  # rules.yml: up{job="spoofwatch"}
    port = monitor["spec"]["endpoints"][0]["port"]
    assert port in {p["name"] for p in service["spec"]["ports"]}


def test_the_prometheus_rule_is_generated_from_rules_yml_and_agrees_with_it() -> None:
    script = K8S / "generate_prometheusrule.py"
    check = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    assert load("prometheusrule.yaml")["spec"] == rules


def test_the_daemonset_is_least_privilege() -> None:
    pod = load("daemonset.yaml")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    sc = container["securityContext"]
    assert pod["hostNetwork"] is True and pod["securityContext"]["runAsNonRoot"] is True
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_RAW", "NET_ADMIN"]}
    assert sc["readOnlyRootFilesystem"] is True
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert requests["memory"] == "256Mi" and limits["memory"] == "1Gi"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/var/lib/spoofwatch" in mounts  # state, and numba's cache on a read-only root


def test_the_configmap_is_a_valid_spoofwatch_config(tmp_path: Path) -> None:
    config = tmp_path / "spoofwatch.toml"
    config.write_text(load("configmap.yaml")["data"]["spoofwatch.toml"])
    check = subprocess.run(
        [sys.executable, "-m", "detector", "check-config", str(config)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
