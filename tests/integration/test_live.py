"""Live capture (AF_PACKET) on veth pairs in network namespaces made by the test (needs root).

1. tcpreplay sends sample captures into one end of a veth pair; `spoofwatch run` captures on
   the other end and raises the samples' alerts.
2. The seed story with traffic nobody scripted: two namespaces act as hypervisors joined by a
   veth underlay, each with a kernel VXLAN device (VNI 5001); the kernel does the ARP and the
   pings between the "VMs"; then one changes its address and pings again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PCAPS
from tests.integration.daemon_util import metric, metrics_up, scrape, wait_for
from tests.integration.live_util import TAG, Watcher, alerts, sh

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="live capture needs root (CAP_NET_RAW) and iproute2 to make namespaces",
)


@pytest.mark.skipif(shutil.which("tcpreplay") is None, reason="tcpreplay is not installed")
def test_tcpreplay_samples_through_a_veth_pair(veth: tuple[str, str], tmp_path: Path) -> None:
    ns, outside = veth
    watcher = Watcher(tmp_path, outside)
    try:
        for sample in (
            "geneve-ip-change.pcap",
            "geneve-impersonation.pcap",
            "vxlan-ip-change.pcap",
        ):
            sh("ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", f"swa{TAG}", str(PCAPS / sample))
        wait_for(lambda: len(alerts(watcher.alerts)) >= 5, timeout=10, what="the samples' alerts")
        kinds = sorted(a["kind"] for a in alerts(watcher.alerts))
        # The impersonation sample reuses the seed story's VMs and addresses: its ARP claim of
        # 10.1.1.20 is a conflict, and vm3 (new) is learned; the seed's bindings carry over.
        assert kinds.count("unbound-source") >= 3, kinds
        assert "binding-limit" in kinds and "arp-conflict" in kinds
        wait_for(lambda: metrics_up(watcher.http), what="metrics")
        text = scrape(watcher.http)
        assert metric(text, 'spoofwatch_packets_total{source="live"}') >= 38
        assert metric(text, 'spoofwatch_capture_drops_total{source="live",stage="kernel"}') == 0
    finally:
        watcher.stop()


@pytest.fixture
def hypervisors() -> Iterator[tuple[str, str]]:
    """Two namespaces as hypervisors: a veth underlay and a kernel VXLAN device (VNI 5001) each."""
    hv1, hv2 = f"swh1{TAG}", f"swh2{TAG}"
    for ns in (hv1, hv2):
        sh("ip", "netns", "add", ns)
    try:
        sh(
            "ip",
            "link",
            "add",
            "u1",
            "netns",
            hv1,
            "type",
            "veth",
            "peer",
            "name",
            "u2",
            "netns",
            hv2,
        )
        for ns, dev, me, peer, vm in (
            (hv1, "u1", "192.0.2.1", "192.0.2.2", "10.1.1.10/24"),
            (hv2, "u2", "192.0.2.2", "192.0.2.1", "10.1.1.20/24"),
        ):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{me}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh(
                "ip",
                "-n",
                ns,
                "link",
                "add",
                "vx0",
                "type",
                "vxlan",
                "id",
                "5001",
                "remote",
                peer,
                "dstport",
                "4789",
                "dev",
                dev,
            )
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.vx0.disable_ipv6=1")
            sh("ip", "-n", ns, "addr", "add", vm, "dev", "vx0")
            sh("ip", "-n", ns, "link", "set", "vx0", "up")
        yield hv1, hv2
    finally:
        for ns in (hv1, hv2):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.mark.parametrize("ring_mb", [16, 0], ids=["ring", "recv"])
def test_seed_story_with_kernel_vxlan_traffic(
    hypervisors: tuple[str, str], tmp_path: Path, ring_mb: int
) -> None:
    hv1, hv2 = hypervisors
    watcher = Watcher(tmp_path, "u2", netns=hv2, source=f"ring_mb = {ring_mb}\n")
    try:
        sh("ip", "netns", "exec", hv1, "ping", "-c", "3", "-i", "0.2", "10.1.1.20")
        time.sleep(0.5)
        before = alerts(watcher.alerts)
        assert not [a for a in before if a["kind"] == "unbound-source"], before
        # vm1's owner changes its address, and keeps talking
        sh("ip", "-n", hv1, "addr", "del", "10.1.1.10/24", "dev", "vx0")
        sh("ip", "-n", hv1, "addr", "add", "10.1.1.11/24", "dev", "vx0")
        changed = time.monotonic()
        subprocess.Popen(
            ["ip", "netns", "exec", hv1, "ping", "-c", "3", "-i", "0.2", "10.1.1.20"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(
            lambda: any(a["kind"] == "unbound-source" for a in alerts(watcher.alerts)),
            timeout=5,
            what="the unbound-source alert",
        )
        assert time.monotonic() - changed < 1.5  # includes ARP resolution before the first ping
        time.sleep(1.0)
        unbound = [a for a in alerts(watcher.alerts) if a["kind"] == "unbound-source"]
        assert len(unbound) == 1, unbound
        alert = unbound[0]
        assert (alert["segment"], alert["src_ip"]) == ("vxlan:5001", "10.1.1.11")
        assert [b["address"] for b in alert["bindings"]] == ["10.1.1.10"]
        assert alert["evidence"]["file"] == "live:u2"
    finally:
        watcher.stop()


def cut(capture: Path, start: float, end: float, out: Path) -> float:
    """Records of a capture from `start` to `end` seconds after its first, as tcpreplay will send
    them (a record cut short is sent short: its original length becomes its length); returns
    the first kept record's time."""
    import gzip
    import struct

    data = gzip.decompress(capture.read_bytes())
    pos, first, kept, t0 = 24, None, [data[:24]], 0.0
    while pos < len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, pos)
        t = sec + usec / 1e6
        first = t if first is None else first
        if start <= t - first < end:
            t0 = t0 or t
            kept.append(struct.pack("<IIII", sec, usec, caplen, caplen))
            kept.append(data[pos + 16 : pos + 16 + caplen])
        pos += 16 + caplen
    out.write_bytes(b"".join(kept))
    return t0


def anomaly_windows(alerts_: list[dict], first: float) -> list[tuple]:  # type: ignore[type-arg]
    """(MAC, window number from the capture's first window, top features) of each anomaly."""
    from datetime import datetime

    base = int(first) // 10 * 10
    out = []
    for a in alerts_:
        if a["kind"] == "anomaly":
            start = datetime.fromisoformat(a["detail"]["window_start"].replace("Z", "+00:00"))
            top = sorted(t["feature"] for t in a["detail"]["top_features"])
            out.append((a["mac"], (int(start.timestamp()) - base) // 10, top))
    return sorted(out)


@pytest.mark.skipif(shutil.which("tcpreplay") is None, reason="tcpreplay is not installed")
def test_anomaly_alerts_live_equal_replay(
    veth: tuple[str, str], tmp_path: Path, behaviour_model: Path
) -> None:
    """27 s of the ARP sweep capture (the sweep from its 5th second) in real time through a veth
    pair: `spoofwatch run` raises the anomaly alerts that replay of the same bytes raises."""
    ns, outside = veth
    sample = tmp_path / "sweep.pcap"
    first = cut(PCAPS / "behaviour" / "attack-arp-sweep.pcap.gz", 55, 82, sample)
    extra = f'[anomaly]\nmodel = "{behaviour_model}"\n'
    (tmp_path / "replay.toml").write_text(extra)
    done = subprocess.run(
        [sys.executable, "-m", "detector", "replay", str(sample), "--config",
         str(tmp_path / "replay.toml"), "--quiet"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    want = anomaly_windows([json.loads(line) for line in done.stdout.splitlines()], first)
    assert [w for _, w, _ in want] == [1, 2, 3], want  # 00:01:00, 00:01:10, 2 s of 00:01:20
    live = tmp_path / "live"
    live.mkdir()
    watcher = Watcher(live, outside, extra=extra)
    try:
        time.sleep((first % 10 - time.time() % 10) % 10)  # the capture's phase in its window
        sent = time.time()
        sh("ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", f"swa{TAG}", str(sample))
        wait_for(lambda: metrics_up(watcher.http), what="metrics")
        scored = metric(scrape(watcher.http), "spoofwatch_anomaly_windows_scored_total")
        assert scored is not None and scored > 0
    finally:
        watcher.stop()  # the last window is judged at exit
    assert anomaly_windows(alerts(watcher.alerts), sent) == want
