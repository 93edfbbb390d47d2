"""A real rsyslog (Debian's) receives spoofwatch's alerts as RFC 5424 over UDP, TCP and TLS, and
loses nothing queued while it was away."""

from __future__ import annotations

import json
import signal
import socket
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
from tests.integration.peers import GTLS, RSYSLOGD, received, start_rsyslog, stop
from tests.nsx_manager import make_ca

pytestmark = pytest.mark.skipif(RSYSLOGD is None, reason="no rsyslogd")
SEED = "geneve-ip-change.pcap"
PRI = {"critical": 16 * 8 + 2, "warning": 16 * 8 + 4, "info": 16 * 8 + 6}  # facility local0


def ports() -> dict[str, int]:
    return {"udp": free_port(socket.SOCK_DGRAM), "tcp": free_port(), "tls": free_port()}


def sink_section(protocol: str, port: int, tmp: Path) -> str:
    return (
        f'[sinks.syslog]\naddress = "127.0.0.1:{port}"\nprotocol = "{protocol}"\n'
        f'ca_file = "{tmp / "ca.pem"}"\nhostname = "probe-1"\n'
    )


@pytest.mark.parametrize("protocol", ["udp", "tcp", "tls"])
def test_rsyslog_receives_every_alert_as_rfc5424(tmp_path: Path, protocol: str) -> None:
    if protocol == "tls" and not GTLS:
        pytest.skip("no rsyslog-gnutls")
    make_ca(tmp_path)
    p = ports()
    rsyslog = start_rsyslog(tmp_path, p)
    try:
        cfg = tmp_path / "replay.toml"
        cfg.write_text(sink_section(protocol, p[protocol], tmp_path))
        alerts = tmp_path / "alerts.jsonl"
        out = spoofwatch("replay", SEED, "--config", str(cfg), "--alerts", str(alerts))
        assert out.returncode == 0, out.stderr
        assert f"delivered to syslog-{protocol}: 2 delivered" in out.stderr
        wait_for(lambda: len(received(tmp_path, protocol)) == 2, what=f"2 messages over {protocol}")
    finally:
        stop(rsyslog)
    written = [json.loads(line) for line in alerts.read_text().splitlines()]
    got = received(tmp_path, protocol)
    assert [json.loads(msg) for *_, msg in got] == written  # MSG is the alert, unchanged
    for (pri, host, app, msgid, sd, _), alert in zip(got, written, strict=True):
        assert int(pri) == PRI[alert["severity"]]
        assert (host, app, msgid) == ("probe-1", "spoofwatch", alert["kind"])
        assert sd.startswith(f'[spoofwatch@32473 kind="{alert["kind"]}" ')
        assert f'mac="{alert["mac"]}" src_ip="{alert["src_ip"]}"' in sd
        assert 'segment="geneve:5001" vni="5001"' in sd


def test_a_syslog_server_that_goes_away_and_returns_loses_nothing_queued(tmp_path: Path) -> None:
    make_ca(tmp_path)
    p = ports()
    udp, http = free_port(), free_port()
    rsyslog = start_rsyslog(tmp_path, p)
    spoofwatch = start(udp_config(tmp_path, udp, http, sink_section("tcp", p["tcp"], tmp_path)))
    alerts = tmp_path / "alerts.jsonl"

    def sink_count(outcome: str) -> float:
        line = f'spoofwatch_sink_alerts_total{{outcome="{outcome}",sink="syslog-tcp"}}'
        return metric(scrape(http), line) or 0.0

    try:
        wait_for(lambda: metrics_up(http), what="spoofwatch metrics")
        send(tunnel_payloads(SEED), udp)
        wait_for(lambda: len(received(tmp_path, "tcp")) == 2, what="the first two alerts")
        stop(rsyslog)  # the connection spoofwatch holds is now closed by the server
        send(tunnel_payloads("geneve-impersonation.pcap"), udp)
        wait_for(lambda: sink_count("failed") >= 1, what="failed sends while rsyslog is down")
        assert len(alerts.read_text().splitlines()) == 4  # detection went on
        rsyslog = start_rsyslog(tmp_path, p)
        wait_for(lambda: len(received(tmp_path, "tcp")) == 4, timeout=40, what="the queued two")
        assert sink_count("delivered") == 4 and sink_count("dropped") == 0
    finally:
        spoofwatch.send_signal(signal.SIGTERM)
        spoofwatch.wait(timeout=20)
        stop(rsyslog)
    written = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert [json.loads(msg) for *_, msg in received(tmp_path, "tcp")] == written
