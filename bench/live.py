"""Live capture measured with a sender that can outrun it: trafgen (netsniff-ng) or tcpreplay -K
into a veth pair, `spoofwatch run` and `tcpdump -w /dev/null` receiving, side by side (root).

Traffic: the first 4,000 packets of the benchmark capture (400 VMs announcing themselves, then
their Geneve/VXLAN traffic, ~600 B), sent round and round, so that after the first pass every
frame is one the table has settled: the steady state of a production mirror. Each run lasts
SECONDS (at least 10 s, and at least ten times what the receiver's buffer holds: spoofwatch's
ring is RING_MB here for that reason). For each receiver, set-up and rate: offered, received,
kernel drops, and the receiver's CPU seconds per million packets: all that CPU 1 did (from
/proc/stat), where the receiver runs alone (and with RPS, its receive softirq); with senders on
both cores, the receiving process's user and system time. Set-ups:
- own core: the receiver on CPU 1, the sender (and the veth softirq it raises) on CPU 0;
- RPS: the receive softirq steered onto the receiver's CPU 1 (rps_cpus), as a capture host's
  NIC does; trafgen's ring path fails there, so tcpreplay -K sends;
- both cores: trafgen on both CPUs, the receiver sharing them.
Then the alert latency: one spoofed frame at a known time, to the alert line, while idle and
under load.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PY = sys.executable
NS, INSIDE, OUTSIDE = "swlive", "swlive0", "swlive1"
SECONDS = 10.0
RING_MB = 64  # ~90k of these frames: a 10 s run at 100k packets/s is ten times that
PORT = 19752
MAX_BATCH = int(os.environ.get("MAX_BATCH", "32768"))
RING_BOTH = int(os.environ.get("RING_BOTH", "768"))
HZ = os.sysconf("SC_CLK_TCK")


def sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=True, capture_output=True, text=True)


def setup(sample: Path) -> Path:
    """The namespace, the veth pair, and the trafgen configuration of the sample."""
    cleanup()
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", OUTSIDE, "type", "veth", "peer", "name", INSIDE, "netns", NS)
    sh("sysctl", "-qw", f"net.ipv6.conf.{OUTSIDE}.disable_ipv6=1")
    sh("ip", "netns", "exec", NS, "sysctl", "-qw", f"net.ipv6.conf.{INSIDE}.disable_ipv6=1")
    sh("ip", "link", "set", OUTSIDE, "up")
    sh("ip", "-n", NS, "link", "set", INSIDE, "up")
    cfg = OUT / "live-4k.cfg"
    if not cfg.exists():
        sh("netsniff-ng", "--in", str(sample), "--out", str(cfg), "-s")
    return cfg


def cleanup() -> None:
    subprocess.run(["ip", "link", "del", OUTSIDE], capture_output=True)
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)


def first_packets(src: Path, out: Path, n: int) -> Path:
    data = src.read_bytes()
    parts, pos = [data[:24]], 24
    for _ in range(n):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        parts.append(data[pos : pos + 16 + caplen])
        pos += 16 + caplen
    out.write_bytes(b"".join(parts))
    return out


def rps(on: bool) -> None:
    Path(f"/sys/class/net/{OUTSIDE}/queues/rx-0/rps_cpus").write_text("2" if on else "0")


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime of the process (all threads)


def busy_ticks(cpu: int) -> int:
    """Everything CPU `cpu` did but idle and iowait: user, nice, system, irq, softirq, steal."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            f = [int(x) for x in line.split()[1:9]]
            return f[0] + f[1] + f[2] + f[5] + f[6] + f[7]
    return 0


class Spoofwatch:
    """`spoofwatch run` on the outside end, pinned to CPU 1."""

    name = "spoofwatch run"

    def __init__(self, ring_mb: int = RING_MB) -> None:
        self.alerts = OUT / "live-alerts.jsonl"
        self.alerts.unlink(missing_ok=True)
        cfg = OUT / "live.toml"
        cfg.write_text(
            f'[source]\nkind = "live"\ninterface = "{OUTSIDE}"\nring_mb = {ring_mb}\n'
            f"max_batch = {MAX_BATCH}\n"
            f'[metrics]\nlisten = "127.0.0.1:{PORT}"\n[alerts]\npath = "{self.alerts}"\n'
        )
        self.proc = subprocess.Popen(
            ["taskset", "-c", "1", PY, "-m", "detector", "run", "--config", str(cfg)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(300):
            try:
                self.counters()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("bench: spoofwatch run did not start")

    def counters(self) -> tuple[float, float]:
        text = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics").read().decode()
        got = {}
        for line in text.splitlines():
            if line.startswith(("spoofwatch_packets_total", "spoofwatch_capture_drops_total")):
                name, value = line.rsplit(" ", 1)
                got[name.split("{")[0]] = got.get(name.split("{")[0], 0.0) + float(value)
        return got.get("spoofwatch_packets_total", 0.0), got.get(
            "spoofwatch_capture_drops_total", 0.0
        )

    def stop(self) -> tuple[float, float]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        return 0.0, 0.0


class Tcpdump:
    """`tcpdump -w /dev/null` with spoofwatch's default filter, pinned to CPU 1."""

    name = "tcpdump -w /dev/null"

    def __init__(self) -> None:
        from detector.config.settings import parse

        bpf = parse({}).run.bpf_filter
        self.proc = subprocess.Popen(
            ["taskset", "-c", "1", "tcpdump", "-i", OUTSIDE, "-w", "/dev/null", "-B", "65536",
             bpf],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1.0)

    def counters(self) -> tuple[float, float]:
        return 0.0, 0.0  # tcpdump says only at exit

    def stop(self) -> tuple[float, float]:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        got = re.search(r"(\d+) packets captured", err)
        lost = re.search(r"(\d+) packets dropped by kernel", err)
        return float(got.group(1) if got else 0), float(lost.group(1) if lost else 0)


def send(setup_: str, cfg: Path, sample: Path, pps: int) -> tuple[int, float]:
    """Offer `pps` (0: as fast as the sender can) for about SECONDS; return (sent, seconds)."""
    n = int((pps or (1_400_000 if setup_ == "both" else 700_000)) * SECONDS)
    if setup_ == "rps":
        rate = [f"--pps={pps}"] if pps else ["--topspeed"]
        cmd = ["tcpreplay", "-K", "-q", *rate, f"--limit={n}", "--loop=0",
               "-i", INSIDE, str(sample)]  # fmt: skip
        cpus = "0"
    else:
        cores = 2 if setup_ == "both" else 1
        rate = [] if pps <= 0 else ["-b", f"{pps // cores}pps"]
        cmd = ["trafgen", "-i", str(cfg), "-o", INSIDE, "-P", str(cores), "-n", str(n),
               "-q", "-C", *rate]  # fmt: skip
        cpus = "0-1" if cores == 2 else "0"
    started = time.monotonic()
    done = subprocess.run(["ip", "netns", "exec", NS, "taskset", "-c", cpus, *cmd],
                          capture_output=True, text=True)  # fmt: skip
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"bench: {cmd[0]} failed: {done.stderr.strip()[-300:]}")
    return n, took


def measure(receiver: type, setup_: str, cfg: Path, sample: Path, pps: int) -> dict[str, float]:
    rps(setup_ == "rps")
    # the both-cores run sends 14M packets: ten times what the default ring holds
    r = receiver(RING_BOTH) if receiver is Spoofwatch and setup_ == "both" else receiver()
    try:
        # one slow pass first: the receiver learns the 400 ports, so the run measures the
        # steady state (a collector's first minute on a busy mirror is a burst of its own)
        sh("ip", "netns", "exec", NS, "tcpreplay", "-q", "--pps=20000", "-i", INSIDE, str(sample))
        time.sleep(1.0)
        p0, d0 = r.counters()
        c0, s0 = cpu_ticks(r.proc.pid), busy_ticks(1)
        sent, took = send(setup_, cfg, sample, pps)
        time.sleep(1.0)  # the last block is handed over; then the counters
        p1, d1 = r.counters()
        c1, s1 = cpu_ticks(r.proc.pid), busy_ticks(1)
    finally:
        got, lost = r.stop()
    if receiver is Spoofwatch:
        got, lost = p1 - p0, d1 - d0
    else:
        got -= 4000  # tcpdump counts from its start: the learning pass too
    # CPU 1 holds the receiver (and with RPS its softirq) alone, unless senders share it
    ticks = (c1 - c0) if setup_ == "both" else (s1 - s0)
    cpu = ticks / HZ
    return {
        "offered": sent / took, "sent": sent, "received": got, "drops": lost,
        "cpu_s_per_mpkt": cpu / max(got, 1) * 1e6, "cpu_share": cpu / took,
    }  # fmt: skip


def latency(cfg: Path, sample: Path, load_pps: int) -> float:
    """Seconds from a spoofed frame's send to its alert line, with `load_pps` of background."""
    from scapy.contrib.geneve import GENEVE
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    spoof = OUT / "live-spoof.pcap"
    inner = Ether(src="02:ba:d0:00:00:01", dst="02:ba:d0:00:00:02") / IP(
        src="10.99.0.1", dst="10.99.0.2") / ICMP()  # fmt: skip
    outer = Ether() / IP(src="172.16.0.1", dst="172.16.0.2") / UDP(dport=6081)
    wrpcap(str(spoof), [outer / GENEVE(vni=7777, proto=0x6558) / inner])
    rps(False)
    r = Spoofwatch()
    load = None
    try:
        if load_pps:
            n = int(load_pps * 30)
            load = subprocess.Popen(
                ["ip", "netns", "exec", NS, "taskset", "-c", "0", "trafgen", "-i", str(cfg),
                 "-o", INSIDE, "-P", "1", "-n", str(n), "-q", "-C", "-b", f"{load_pps}pps"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(3.0)
        sent = time.monotonic()
        sh("ip", "netns", "exec", NS, "tcpreplay", "-q", "-i", INSIDE, str(spoof))
        while time.monotonic() - sent < 10:
            if r.alerts.exists() and "unlearned-port" in r.alerts.read_text():
                return time.monotonic() - sent
            time.sleep(0.005)
        return float("nan")
    finally:
        if load is not None:
            load.kill()
            load.wait()
        r.stop()


def main() -> None:
    if os.geteuid() != 0 or not all(map(shutil.which, ("trafgen", "tcpdump", "tcpreplay"))):
        print("\nlive capture: skipped (needs root, trafgen, tcpdump and tcpreplay)")
        return
    sample = first_packets(OUT / "bench-50k.pcap", OUT / "live-4k.pcap", 4000)
    cfg = setup(sample)
    plan = [("own core", p) for p in (250_000, 500_000, 0)]
    plan += [("rps", p) for p in (200_000, 300_000, 530_000)]
    plan += [("both", 0)]
    rows = []
    try:
        for setup_, pps in plan:
            for receiver in (Spoofwatch, Tcpdump):
                key = "rps" if setup_ == "rps" else ("both" if setup_ == "both" else "own")
                r = measure(receiver, key, cfg, sample, pps)
                rows.append((setup_, receiver.name, r))
                print(f"  live {setup_:<8} {receiver.name:<22} {json.dumps(r)}", file=sys.stderr)
        idle = [latency(cfg, sample, 0) for _ in range(3)]
        busy = [latency(cfg, sample, 400_000) for _ in range(3)]
    finally:
        rps(False)
        cleanup()
    report(rows, idle, busy)


def report(
    rows: list[tuple[str, str, dict[str, float]]], idle: list[float], busy: list[float]
) -> None:
    print(f"\nlive capture over a veth pair, {SECONDS:.0f} s a run, 600-byte Geneve/VXLAN frames:")
    print(
        f"  {'set-up':<10} {'receiver':<22} {'offered pps':>12} {'received':>11} {'drops':>9}"
        f" {'CPU s/Mpkt':>11} {'CPU':>6}"
    )
    for setup_, name, r in rows:
        cells = (
            f"{r['offered']:>12,.0f} {r['received']:>11,.0f} {r['drops']:>9,.0f}"
            f" {r['cpu_s_per_mpkt']:>11.3f} {r['cpu_share']:>6.0%}"
        )
        print(f"  {setup_:<10} {name:<22} {cells}")
    for setup_ in dict.fromkeys(s for s, _, _ in rows):
        mine = [r for s, n, r in rows if s == setup_ and n == Spoofwatch.name]
        theirs = [r for s, n, r in rows if s == setup_ and n == Tcpdump.name]
        ratio = [
            a["cpu_s_per_mpkt"] / max(b["cpu_s_per_mpkt"], 1e-9)
            for a, b in zip(mine, theirs, strict=True)
        ]
        print(
            f"  {setup_}: spoofwatch's CPU per packet is {statistics.median(ratio):.1f}x"
            f" tcpdump's (median of {len(ratio)} rates, spread {min(ratio):.1f}-{max(ratio):.1f})"
        )
    print(f"  alert latency, packet to alert line: idle {_ms(idle)};")
    print(f"  under 400k packets/s {_ms(busy)}")


def _ms(values: list[float]) -> str:
    middle, top = statistics.median(values) * 1000, max(values) * 1000
    return f"median {middle:.0f} ms (max {top:.0f} ms, {len(values)} runs)"


if __name__ == "__main__":
    main()
