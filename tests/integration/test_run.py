"""`spoofwatch run` as a daemon: UDP tunnel source, metrics, state across kill -9, signals."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import validate_alerts
from tests.integration.daemon_util import (
    free_port,
    metric,
    metrics_up,
    scrape,
    send,
    start,
    tunnel_payloads,
    udp_config,
    wait_for,
)

SEED = tunnel_payloads("geneve-ip-change.pcap")


def alerts(tmp: Path) -> list[dict]:  # type: ignore[type-arg]
    path = tmp / "alerts.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    validate_alerts(lines)
    return [json.loads(line) for line in lines]


def export(tmp: Path) -> str:
    return subprocess.run(
        [sys.executable, "-m", "detector", "bindings", "export", "--state", str(tmp / "state.db")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def daemon(tmp_path: Path):  # type: ignore[no-untyped-def]
    udp, http = free_port(), free_port()
    cfg = udp_config(tmp_path, udp, http)
    proc = start(cfg)
    wait_for(lambda: metrics_up(http), what="the metrics endpoint")
    yield proc, udp, http, cfg
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_alerts_and_metrics_from_a_udp_tunnel(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc, udp, http, _ = daemon
    send(SEED, udp)
    wait_for(lambda: len(alerts(tmp_path)) == 2, what="two alerts")
    assert [a["kind"] for a in alerts(tmp_path)] == ["binding-limit", "unbound-source"]
    text = scrape(http)
    assert metric(text, 'spoofwatch_alerts_total{kind="unbound-source"}') == 1
    assert metric(text, 'spoofwatch_packets_total{source="udp"}') == len(SEED)
    assert metric(text, "spoofwatch_unbound_source_packets_total") == 5
    assert metric(text, "spoofwatch_bindings") == 2
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_exposition(daemon) -> None:  # type: ignore[no-untyped-def]
    _, udp, http, _ = daemon
    send(SEED, udp)
    wait_for(lambda: (metric(scrape(http), "spoofwatch_bindings") or 0) == 2, what="bindings")
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=scrape(http), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kill_9_loses_no_binding_and_restores_them(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc, udp, http, cfg = daemon
    send(SEED, udp)  # both VMs learned, and vm1's change alerted
    wait_for(lambda: len(alerts(tmp_path)) == 2, what="alerts before the crash")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = export(tmp_path)
    assert before.count("\n") == 3  # header and two bindings
    history = (tmp_path / "alerts.jsonl").read_text()
    again = start(cfg)
    try:
        wait_for(lambda: metrics_up(http), what="the restarted endpoint")
        assert export(tmp_path) == before
        send(SEED[8:], udp)  # the change again, judged by the restored bindings
        wait_for(lambda: len(alerts(tmp_path)) == 4, what="alerts after restart")
        assert (tmp_path / "alerts.jsonl").read_text().startswith(history)  # appended
        found = alerts(tmp_path)[-1]
        assert found["kind"] == "unbound-source"
        assert found["bindings"][0]["restored"] is True
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=10) == 0
    finally:
        if again.poll() is None:
            again.kill()


def test_corrupt_state_stops_start_up_unless_reset(tmp_path: Path) -> None:
    http = free_port()
    cfg = udp_config(tmp_path, free_port(), http)
    (tmp_path / "state.db").write_bytes(b"this is not a database" * 100)
    proc = start(cfg)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert "state.db is unreadable" in out and "--reset-state" in out
    assert "Traceback" not in out
    proc = start(cfg, "--reset-state")
    try:
        wait_for(lambda: metrics_up(http), what="start-up with a fresh state file")
        assert (tmp_path / "state.db").read_bytes()[:6] == b"SQLite"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_sighup_keeps_running_config_when_new_one_is_invalid(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc, udp, http, cfg = daemon
    good = cfg.read_text()
    cfg.write_text(good + "[bindings]\narp_binding_limit = 0\n")
    proc.send_signal(signal.SIGHUP)
    send(SEED, udp)  # still detecting with the running configuration
    wait_for(
        lambda: metric(scrape(http), 'spoofwatch_alerts_total{kind="unbound-source"}') == 1,
        what="detection after a bad reload",
    )
    time.sleep(0.6)  # the reload runs after the batch in flight: let it read the bad file first
    cfg.write_text(good + '[detectors]\nenabled = ["unbound_source"]\n')
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.6)  # the loop looks at signals between batches (every 0.2 s at most)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "reload failed, keeping the running configuration" in out
    assert "bindings.arp_binding_limit" in out
    assert "configuration reloaded" in out


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_metrics_over_tls(tmp_path: Path) -> None:
    import ssl
    import urllib.request

    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(tmp_path / "k.pem"),
            "-out",
            str(tmp_path / "c.pem"),
        ],
        check=True,
        capture_output=True,
    )
    http = free_port()
    extra = f'[metrics]\ntls_cert = "{tmp_path / "c.pem"}"\ntls_key = "{tmp_path / "k.pem"}"\n'
    cfg = udp_config(tmp_path, free_port(), http)
    cfg.write_text(cfg.read_text().replace("[metrics]\n", extra, 1))
    proc = start(cfg)
    ctx = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
    ctx.check_hostname = False

    def https_up() -> bool:
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{http}/metrics", context=ctx) as r:
                return b"spoofwatch_build_info" in r.read()
        except OSError:
            return False

    try:
        wait_for(https_up, what="metrics over HTTPS")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_run_keeps_a_timeline_that_closes_buckets_when_the_mirror_is_quiet(
    tmp_path: Path,
) -> None:
    from detector.report import load

    udp, http = free_port(), free_port()
    extra = '[timeline]\ndirectory = "timeline"\nbucket_seconds = 0.5\nrotate_seconds = 60\n'
    proc = start(udp_config(tmp_path, udp, http, extra))
    try:
        wait_for(lambda: metrics_up(http), what="the metrics endpoint")
        send(SEED, udp)
        # no more traffic: the open buckets are written after (slack + 1) quiet buckets
        wait_for(
            lambda: (metric(scrape(http), "spoofwatch_timeline_rows_total") or 0) >= 3,
            what="the timeline rows",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    files = sorted((tmp_path / "timeline").glob("timeline-*.parquet"))
    assert len(files) == 1
    rows, meta = load.timeline(str(files[0]))
    assert meta["packets"] == len(SEED) and meta["bucket_seconds"] == 0.5
    assert {b["address"] for b in meta["bindings"]} == {"10.1.1.10", "10.1.1.20"}
    moved = rows[rows["src_ip"] == "10.1.1.11"]
    assert moved["unbound_packets"].sum() == 6 and not moved["bound"].any()  # GARP + 5 pings
    assert rows["packets"].sum() == len(SEED)
