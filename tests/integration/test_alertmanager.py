"""A real Alertmanager (Debian's) receives spoofwatch's alerts: labels, silences, resolution, and
delivery after an outage."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.integration.daemon_util import (
    free_port,
    metric,
    metrics_up,
    scrape,
    send,
    spoofwatch,
    start,
    tunnel_payloads,
    udp_config,
    wait_for,
)
from tests.integration.peers import (
    ALERTMANAGER,
    am_alerts,
    am_silence,
    start_alertmanager,
    stop,
)

pytestmark = pytest.mark.skipif(ALERTMANAGER is None, reason="no prometheus-alertmanager")
SEED = "geneve-ip-change.pcap"
VM1 = "00:50:56:a1:00:01"


def unbound(port: int, **filters: str) -> list[dict]:  # type: ignore[type-arg]
    alerts = am_alerts(port, **filters)
    return [a for a in alerts if a["labels"]["alertname"] == "SpoofwatchUnboundSource"]


def test_replay_pushes_labelled_alerts_and_a_silence_on_the_mac_silences_them(
    tmp_path: Path,
) -> None:
    port = free_port()
    am = start_alertmanager(tmp_path, port)
    try:
        cfg = tmp_path / "replay.toml"
        cfg.write_text(
            f'[sinks.alertmanager]\nurls = ["http://127.0.0.1:{port}"]\ncollector = "probe-1"\n'
        )
        alerts = str(tmp_path / "alerts.jsonl")
        out = spoofwatch("replay", SEED, "--config", str(cfg), "--alerts", alerts)
        assert out.returncode == 0, out.stderr
        assert "delivered to alertmanager: 2 delivered" in out.stderr
        [alert] = unbound(port)
        assert alert["labels"] == {
            "alertname": "SpoofwatchUnboundSource",
            "severity": "critical",
            "segment": "geneve:5001",
            "mac": VM1,
            "src_ip": "10.1.1.11",
            "collector": "probe-1",
        }
        assert alert["startsAt"].startswith("2026-01-01T00:00:00.009")  # capture time
        assert "10.1.1.10" in alert["annotations"]["bindings"]
        assert f"{SEED} packet 10" in alert["annotations"]["evidence"]
        assert alert["status"]["state"] == "active"

        silence = am_silence(port, "mac", VM1)
        wait_for(
            lambda: [a["status"]["silencedBy"] for a in unbound(port)] == [[silence]],
            what="the silence on the MAC to take the alert",
        )
        assert unbound(port)[0]["status"]["state"] == "suppressed"
        assert unbound(port, silenced="false") == []
    finally:
        stop(am)


def sink_count(text: str, outcome: str) -> float:
    line = f'spoofwatch_sink_alerts_total{{outcome="{outcome}",sink="alertmanager"}}'
    return metric(text, line) or 0.0


def test_run_resolves_an_alert_once_its_source_falls_quiet(tmp_path: Path) -> None:
    port, udp, http = free_port(), free_port(), free_port()
    am = start_alertmanager(tmp_path, port)
    extra = f'[sinks.alertmanager]\nurls = ["http://127.0.0.1:{port}"]\nresolve_seconds = 3\n'
    spoofwatch = start(udp_config(tmp_path, udp, http, extra))
    try:
        wait_for(lambda: metrics_up(http), what="spoofwatch metrics")
        send(tunnel_payloads(SEED), udp)
        wait_for(lambda: len(unbound(port)) == 1, what="the alert in Alertmanager")
        [alert] = unbound(port)
        assert alert["labels"]["mac"] == VM1 and alert["labels"]["src_ip"] == "10.1.1.11"
        assert alert["generatorURL"].endswith(f":{http}/metrics")
        # No packet from 10.1.1.11 for resolve_seconds: spoofwatch sends endsAt and it resolves.
        wait_for(lambda: not unbound(port), timeout=15, what="the alert to be resolved")
        text = scrape(http)
        assert sink_count(text, "delivered") >= 4  # two alerts pushed, then both resolved
        assert sink_count(text, "dropped") == 0
        assert metric(text, 'spoofwatch_sink_queue_length{sink="alertmanager"}') == 0
    finally:
        spoofwatch.send_signal(signal.SIGTERM)
        spoofwatch.wait(timeout=20)
        stop(am)


def test_run_keeps_detecting_while_alertmanager_is_down_and_delivers_when_it_returns(
    tmp_path: Path,
) -> None:
    port, udp, http = free_port(), free_port(), free_port()
    extra = f'[sinks.alertmanager]\nurls = ["http://127.0.0.1:{port}"]\n'
    spoofwatch = start(udp_config(tmp_path, udp, http, extra))
    am = None
    try:
        wait_for(lambda: metrics_up(http), what="spoofwatch metrics")
        send(tunnel_payloads(SEED), udp)
        alerts = tmp_path / "alerts.jsonl"

        def detected() -> bool:
            lines = alerts.read_text().splitlines() if alerts.exists() else []
            return any(json.loads(x)["kind"] == "unbound-source" for x in lines)

        wait_for(detected, what="the alert in the alerts file while Alertmanager is down")
        wait_for(
            lambda: sink_count(scrape(http), "failed") >= 2,
            what="the failed pushes to be counted",
        )
        assert sink_count(scrape(http), "delivered") == 0
        assert metric(scrape(http), 'spoofwatch_sink_queue_length{sink="alertmanager"}') == 2
        am = start_alertmanager(tmp_path, port)
        wait_for(lambda: len(unbound(port)) == 1, timeout=40, what="delivery after the outage")
        assert sink_count(scrape(http), "delivered") >= 2
    finally:
        spoofwatch.send_signal(signal.SIGTERM)
        out, _ = spoofwatch.communicate(timeout=20)
        if am is not None:
            stop(am)
    assert "alertmanager http://127.0.0.1" in out and "delivering again" in out
    assert out.count("Connection refused") == 1  # logged once per burst, not per attempt
