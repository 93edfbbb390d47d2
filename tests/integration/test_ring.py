"""The TPACKET_V3 ring against the recv() loop it replaces, on a veth pair (needs root):
the same alerts and counters, VLAN tags the kernel took off put back, and drops counted when a
tiny ring overflows, never silent."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import PCAPS
from tests.integration.daemon_util import metric, metrics_up, scrape, wait_for
from tests.integration.live_util import TAG, Watcher, alerts, sh

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None,
        reason="live capture needs root (CAP_NET_RAW) and iproute2 to make namespaces",
    ),
    pytest.mark.skipif(shutil.which("tcpreplay") is None, reason="tcpreplay is not installed"),
]
COUNTERS = (
    'spoofwatch_packets_total{source="live"}',
    'spoofwatch_frames_total{encap="geneve"}',
    'spoofwatch_frames_total{encap="vxlan"}',
    'spoofwatch_frames_total{encap="none"}',
    "spoofwatch_frames_inspected_total",
    'spoofwatch_capture_drops_total{source="live",stage="kernel"}',
)


def observe(
    tmp: Path, ns: str, outside: str, source: str, samples: list[str], extra: str = ""
) -> tuple[list[tuple], dict[str, float | None], str]:  # type: ignore[type-arg]
    """Replay samples into the veth pair; the alerts, the counters and the log of the run."""
    watcher = Watcher(tmp, outside, extra=extra, source=source)
    try:
        for sample in samples:
            sh("ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", f"swa{TAG}", str(PCAPS / sample))
        wait_for(lambda: metrics_up(watcher.http), what="metrics")
        time.sleep(1.5)  # the ring's last block is handed over within 100 ms; then a batch
        text = scrape(watcher.http)
    finally:
        watcher.stop()
    seen = [
        (a["kind"], a["segment"], a["mac"], a["src_ip"], a["count"], a["evidence"]["packet"])
        for a in alerts(watcher.alerts)
    ]
    return seen, {c: metric(text, c) for c in COUNTERS}, "".join(watcher.log)


@pytest.mark.parametrize(
    ("samples", "extra", "source"),
    [
        (["geneve-ip-change.pcap", "geneve-impersonation.pcap", "vxlan-ip-change.pcap"], "", ""),
        # a plain SPAN of VLAN 10: the kernel takes the tag off; both paths must put it back
        (["plain-span-ip-change.pcap"], "[segments]\ninspect_untunnelled = true\n",
         'bpf_filter = ""\n'),
    ],
    ids=["tunnels", "vlan-span"],
)  # fmt: skip
def test_the_ring_and_the_recv_loop_see_the_same(
    veth: tuple[str, str], tmp_path: Path, samples: list[str], extra: str, source: str
) -> None:
    ns, outside = veth
    (tmp_path / "ring").mkdir()
    (tmp_path / "recv").mkdir()
    ring = observe(tmp_path / "ring", ns, outside, source + "ring_mb = 8\n", samples, extra)
    recv = observe(tmp_path / "recv", ns, outside, source + "ring_mb = 0\n", samples, extra)
    assert "through a 8 MiB TPACKET_V3 ring" in ring[2]
    assert "TPACKET_V3" not in recv[2]
    assert ring[0] == recv[0] and len(ring[0]) >= 2
    assert ring[1] == recv[1], (ring[1], recv[1])
    if "vlan-span" in str(tmp_path):
        assert {segment for _, segment, *_ in ring[0]} == {"vlan:10"}


def test_a_tiny_ring_that_overflows_counts_its_drops(veth: tuple[str, str], tmp_path: Path) -> None:
    """The smallest ring (two 4 MiB blocks), and spoofwatch stopped while 48 MB arrive: the
    kernel drops what does not fit, and the metrics and the log say so."""
    ns, outside = veth
    watcher = Watcher(tmp_path, outside, source="ring_mb = 1\n")
    try:
        wait_for(lambda: metrics_up(watcher.http), what="metrics")
        os.kill(watcher.proc.pid, signal.SIGSTOP)
        try:
            sent = subprocess.run(
                ["ip", "netns", "exec", ns, "tcpreplay", "--topspeed", "--loop=200",
                 "-i", f"swa{TAG}", str(PCAPS / "geneve-incident.pcap")],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
        finally:
            os.kill(watcher.proc.pid, signal.SIGCONT)
        offered = int(sent.split("Successful packets:")[1].split()[0])
        drops = 'spoofwatch_capture_drops_total{source="live",stage="kernel"}'
        wait_for(lambda: (metric(scrape(watcher.http), drops) or 0) > 0, what="counted drops")
        time.sleep(1.0)
        text = scrape(watcher.http)
        got, lost = metric(text, 'spoofwatch_packets_total{source="live"}'), metric(text, drops)
        assert got is not None and lost is not None and got > 0 and lost > 0
        assert got + lost <= offered and lost > offered / 2, (got, lost, offered)
        wait_for(
            lambda: any("the capture ring was full" in line for line in watcher.log),
            what="the warning that names source.ring_mb",
        )
    finally:
        watcher.stop()


@pytest.mark.parametrize("ring_mb", [8, 0], ids=["ring", "recv"])
def test_nothing_is_queued_before_the_filter_is_in_place(ring_mb: int) -> None:
    """A flood on lo that the filter refuses, running while the capture is set up: not one of
    its packets may be read. (A socket opened for every protocol queues packets from every
    interface until it is bound, and from this one until its filter is attached.)"""
    from detector.sources.live import AfPacketSource

    stop = threading.Event()

    def flood() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not stop.is_set():
                s.sendto(b"x" * 64, ("127.0.0.1", 9))

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        time.sleep(0.2)
        source = AfPacketSource("lo", "udp port 6081", promiscuous=False, ring_mb=ring_mb)
    finally:
        stop.set()
        thread.join()
    try:
        seen = 0
        for _ in range(3):
            batch = source.next_batch(0.2)
            seen += 0 if batch is None else len(batch)
    finally:
        source.close()
    assert seen == 0, f"{seen} packets the filter refuses were captured"
