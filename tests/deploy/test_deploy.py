"""Deployment files are tested too: alert rules (promtool), dashboard metrics, systemd unit."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from detector.metrics.exposition import CATALOGUE
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool")


def exposed_names() -> set[str]:
    names = set()
    for name, (kind, _, _) in CATALOGUE.items():
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


@needs_promtool
def test_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    check = subprocess.run(
        ["promtool", "check", "rules", "rules.yml"],
        cwd=DEPLOY / "prometheus",
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        ["promtool", "test", "rules", "rules_test.yml"],
        cwd=DEPLOY / "prometheus",
        capture_output=True,
        text=True,
    )
    assert test.returncode == 0, test.stdout + test.stderr


@needs_promtool
@pytest.mark.parametrize(
    "command",
    [
        ["promtool", "check", "config", "federation.yml"],
        ["promtool", "test", "rules", "fleet_rules_test.yml"],
        ["amtool", "check-config", "alertmanager.yml"],
    ],
    ids=["federation", "fleet-rules", "alertmanager-route"],
)
def test_the_fleet_examples_are_valid(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    done = subprocess.run(
        command, cwd=DEPLOY / "prometheus" / "fleet", capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_and_dashboard_use_only_metrics_that_exist() -> None:
    exprs = [
        t["expr"]
        for p in json.loads((DEPLOY / "grafana" / "dashboard.json").read_text())["panels"]
        for t in p["targets"]
    ]
    exprs.append((DEPLOY / "prometheus" / "rules.yml").read_text())
    exprs.append((DEPLOY / "prometheus" / "fleet" / "fleet_rules.yml").read_text())
    used = {m for e in exprs for m in re.findall(r"\bspoofwatch_[a-z_]+", e)}
    assert used, "no spoofwatch metric referenced at all"
    assert used <= exposed_names(), used - exposed_names()


def test_metric_names_follow_prometheus_conventions() -> None:
    for name, (kind, doc, labels) in CATALOGUE.items():
        assert name.startswith("spoofwatch_") and doc.endswith(".")
        assert name.endswith("_total") == (kind == "counter"), name
        assert not {"ip", "mac", "vni", "address", "src_ip"} & set(labels), name


def test_systemd_unit_is_least_privilege() -> None:
    unit = (DEPLOY / "systemd" / "spoofwatch.service").read_text()
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings["User"] == "spoofwatch"
    assert settings["AmbientCapabilities"] == "CAP_NET_RAW CAP_NET_ADMIN"
    assert settings["CapabilityBoundingSet"] == settings["AmbientCapabilities"]
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert "spoofwatch run --config" in settings["ExecStart"]
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_hardening_score_stays_at_most_2() -> None:
    unit = DEPLOY / "systemd" / "spoofwatch.service"
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
    )
    if "--offline" in out.stderr and "unrecognized" in out.stderr:
        pytest.skip("systemd-analyze older than 250 has no --offline")
    score = re.search(r"Overall exposure level for spoofwatch.service: ([\d.]+)", out.stdout)
    assert score is not None, out.stdout[-500:] + out.stderr
    assert float(score.group(1)) <= 2.0 and out.returncode == 0, score.group(0)
