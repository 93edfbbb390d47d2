"""A real Prometheus (Debian's) scrapes `spoofwatch run` and evaluates the shipped alert rules."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.daemon_util import (
    free_port,
    metrics_up,
    send,
    start,
    tunnel_payloads,
    udp_config,
    wait_for,
)

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="no prometheus")


def query(port: int, promql: str) -> list[dict]:  # type: ignore[type-arg]
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return list(json.loads(r.read())["data"]["result"])
    except OSError:
        return []


def firing(port: int) -> set[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5) as r:
            alerts = json.loads(r.read())["data"]["alerts"]
    except OSError:
        return set()
    return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}


def test_prometheus_scrapes_alert_counts_and_fires_the_rule(tmp_path: Path) -> None:
    udp, http, prom = free_port(), free_port(), free_port()
    spoofwatch = start(udp_config(tmp_path, udp, http))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{ROOT / 'deploy' / 'prometheus' / 'rules.yml'}']\n"
        "scrape_configs:\n"
        "  - job_name: spoofwatch\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{http}']}}]\n"
    )
    prometheus = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: metrics_up(http), what="spoofwatch metrics")
        wait_for(
            lambda: any(r["value"][1] == "1" for r in query(prom, 'up{job="spoofwatch"}')),
            timeout=30,
            what="Prometheus to scrape spoofwatch",
        )
        wait_for(
            lambda: bool(query(prom, "spoofwatch_packets_total")),
            timeout=10,
            what="a sample before the spoofing",
        )
        send(tunnel_payloads("geneve-ip-change.pcap"), udp)
        promql = 'spoofwatch_alerts_total{kind="unbound-source"}'
        wait_for(
            lambda: [r["value"][1] for r in query(prom, promql)] == ["1"],
            timeout=20,
            what=f"Prometheus to report {promql} = 1",
        )
        wait_for(
            lambda: "SpoofwatchUnboundSourceSeen" in firing(prom),
            timeout=20,
            what="the SpoofwatchUnboundSourceSeen rule to fire",
        )
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=20)
        spoofwatch.send_signal(signal.SIGTERM)
        spoofwatch.wait(timeout=10)
