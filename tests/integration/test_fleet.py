"""A fleet of `spoofwatch run` collectors sharing one real PostgreSQL ([state] url).

Each collector captures its own veth mirror (one hypervisor's traffic); a throw-away cluster
made with initdb/pg_ctl holds the claims. The story of the issue: a VM learned on the first
host moves to the second with a new address, and the second collector alerts because of the
binding the first claimed; then the second is killed (-9) and restarts from the store; then
the store is stopped mid-run and comes back, and the queued claim lands.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.contrib.geneve import GENEVE
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import wrpcap

from tests.conftest import empty_database
from tests.integration.daemon_util import metric, scrape, wait_for
from tests.integration.live_util import TAG, Watcher, alerts, sh
from tests.pgcluster import AVAILABLE, Cluster

pytestmark = [
    pytest.mark.skipif(not AVAILABLE, reason="PostgreSQL (Debian postgresql) is not installed"),
    pytest.mark.skipif(shutil.which("tcpreplay") is None, reason="tcpreplay is not installed"),
]
VM, VM2 = "00:50:56:b0:00:01", "00:50:56:b0:00:02"
GW = "00:50:56:b0:00:fe"
SEGMENT = "geneve:5001"
NS, HOSTS = f"swf{TAG}", (f"swf{TAG}a", f"swf{TAG}b")


def frames(path: Path, hv: int, mac: str, address: str) -> Path:
    """A gratuitous ARP and three pings from one VM, Geneve-encapsulated by hypervisor `hv`."""
    outer = Ether(src=f"52:54:00:20:00:0{hv}", dst="52:54:00:20:00:09") / IP(
        src=f"172.16.9.{hv}", dst="172.16.9.9"
    )
    tunnel = UDP(sport=50000 + hv, dport=6081) / GENEVE(vni=5001, proto=0x6558)
    inner = [
        Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=mac, psrc=address, pdst=address, hwdst="00:00:00:00:00:00")
    ]
    inner += [
        Ether(src=mac, dst=GW) / IP(src=address, dst="10.9.0.1") / ICMP(seq=i) for i in range(3)
    ]
    wrpcap(str(path), [outer / tunnel / f for f in inner])
    return path


@pytest.fixture
def mirrors() -> Iterator[tuple[str, str]]:
    """Two veth pairs: the namespace's ends send, ours are the two hosts' mirror ports."""
    sh("ip", "netns", "add", NS)
    try:
        for host in HOSTS:
            sh("ip", "link", "add", host, "type", "veth", "peer", "name", f"{host}i", "netns", NS)
            sh("sysctl", "-qw", f"net.ipv6.conf.{host}.disable_ipv6=1")
            sh("ip", "netns", "exec", NS, "sysctl", "-qw", f"net.ipv6.conf.{host}i.disable_ipv6=1")
            sh("ip", "link", "set", host, "up")
            sh("ip", "-n", NS, "link", "set", f"{host}i", "up")
        yield HOSTS
    finally:
        for host in HOSTS:
            subprocess.run(["ip", "link", "del", host], capture_output=True)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)


def collector(tmp: Path, name: str, interface: str, url: str) -> Watcher:
    home = tmp / name
    home.mkdir(exist_ok=True)
    state = f'[state]\nurl = "{url}"\ncollector = "{name}"\npath = "{home / "journal.db"}"\n'
    return Watcher(home, interface, extra=state)


def send(host: str, capture: Path) -> None:
    sh("ip", "netns", "exec", NS, "tcpreplay", "-q", "-i", f"{host}i", str(capture))


def state(w: Watcher, name: str) -> float:
    return metric(scrape(w.http), name) or 0.0


def export(where: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "detector", "bindings", "export", "--state", where],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def test_a_vm_that_moves_hosts_keeps_the_binding_the_first_collector_claimed(
    postgres: Cluster, mirrors: tuple[str, str], tmp_path: Path
) -> None:
    cluster = postgres
    empty_database(cluster)
    hv1, hv2 = mirrors
    a = collector(tmp_path, "hv1", hv1, cluster.url)
    b = collector(tmp_path, "hv2", hv2, cluster.url)
    try:
        send(hv1, frames(tmp_path / "before.pcap", 1, VM, "10.0.0.5"))
        wait_for(lambda: cluster.sql("SELECT count(*) FROM spoofwatch_bindings") == "1", 10)
        stored = time.monotonic()
        wait_for(
            lambda: state(b, "spoofwatch_state_remote_bindings_total") >= 1,
            timeout=1.0,
            what="the second collector to hear the first's claim within a second",
        )
        assert time.monotonic() - stored < 1.0
        row = cluster.sql(
            "SELECT segment, mac, address, method, collector FROM spoofwatch_bindings"
        )
        assert row.split("\t") == [SEGMENT, VM, "10.0.0.5", "arp", "hv1"]

        # vMotion: the VM now speaks only behind the second host, from a new address
        send(hv2, frames(tmp_path / "after.pcap", 2, VM, "10.0.0.99"))
        wait_for(lambda: len(alerts(b.alerts)) >= 2, 10, "the second collector's alerts")
        got = {(x["kind"], x["src_ip"]) for x in alerts(b.alerts)}
        assert ("binding-limit", "10.0.0.99") in got
        assert ("unbound-source", "10.0.0.99") in got
        spoof = next(x for x in alerts(b.alerts) if x["kind"] == "unbound-source")
        assert [x["address"] for x in spoof["bindings"]] == ["10.0.0.5"]
        assert alerts(a.alerts) == []  # the first host saw nothing wrong
        assert cluster.sql("SELECT count(*) FROM spoofwatch_bindings") == "1"

        # kill -9 the second collector; it restarts from the store (equal by export)
        before = export(cluster.url)
        b.proc.kill()
        b.proc.wait(timeout=10)
        b = collector(tmp_path, "hv2", hv2, cluster.url)
        assert any("1 bindings from the shared store" in line for line in b.log), b.log
        assert export(cluster.url) == before
        assert export(str(tmp_path / "hv2" / "journal.db")) == before
        send(hv2, frames(tmp_path / "again.pcap", 2, VM, "10.0.0.99"))
        wait_for(lambda: len(alerts(b.alerts)) >= 2, 10, "alerts after the restart")

        # the store stops mid-run: a new VM on the first host is claimed when it returns
        heard = state(b, "spoofwatch_state_remote_bindings_total")
        cluster.stop()
        wait_for(lambda: state(a, "spoofwatch_state_up") == 0, 15, "the outage to show")
        send(hv1, frames(tmp_path / "vm2.pcap", 1, VM2, "10.0.0.7"))
        wait_for(lambda: state(a, "spoofwatch_state_claims_queued") == 1, 10, "a queued claim")
        assert state(a, "spoofwatch_state_outages_total") == 1
        cluster.start()
        wait_for(lambda: state(a, "spoofwatch_state_claims_queued") == 0, 20, "the queue to land")
        assert state(a, "spoofwatch_state_up") == 1
        wait_for(
            lambda: state(b, "spoofwatch_state_remote_bindings_total") == heard + 1,
            10,
            "the second collector to hear the claim that waited",
        )
        rows = cluster.sql("SELECT mac, address FROM spoofwatch_bindings ORDER BY id")
        assert rows.splitlines() == [f"{VM}\t10.0.0.5", f"{VM2}\t10.0.0.7"]  # nothing lost
    finally:
        a.stop()
        b.stop()
