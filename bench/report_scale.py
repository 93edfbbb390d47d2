"""`make bench`: how long `spoofwatch report` takes on 1M alerts and on a 10M-row timeline.

The inputs are synthetic but shaped like a flood of incidents: 1M alerts over 100,000 ports,
and a timeline of 10M rows (100,000 ports x 100 one-second buckets), half of its ports sending
from an unbound address. Both are written once into bench/out and reused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
ALERTS, TIMELINE = OUT / "scale-alerts-1m.jsonl", OUT / "scale-timeline-10m.parquet"
N_ALERTS, N_PORTS, N_BUCKETS = 1_000_000, 100_000, 100


def mac(i: int) -> str:
    return f"00:50:56:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}"


def write_alerts() -> None:
    base = {
        "event_type": "alert", "schema": 1, "kind": "unbound-source", "severity": "critical",
        "segment": "geneve:5001", "vni": 5001, "count": 1, "impersonates": None, "detail": {},
        "message": "a port sent from an address it is not bound to",
    }  # fmt: skip
    with ALERTS.open("w") as f:
        for n in range(N_ALERTS):
            port = n % N_PORTS
            a = dict(
                base,
                mac=mac(port),
                src_ip=f"10.{n >> 16 & 0xFF}.{n >> 8 & 0xFF}.{n & 0xFF}",
                first_seen=f"2026-01-01T00:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.000000Z",
                bindings=[{"address": f"10.200.{port >> 8 & 0xFF}.{port & 0xFF}", "method": "arp"}],
                evidence={"file": "big.pcap", "packet": n + 1, "time": "2026-01-01T00:00:00Z"},
            )
            f.write(json.dumps(a, separators=(",", ":")) + "\n")


def write_timeline() -> None:
    import pandas as pd

    from detector.sinks.timeline_files import TimelineWriter

    writer = TimelineWriter(TIMELINE, 1.0)
    ports = np.arange(N_PORTS)
    macs = np.array([mac(i) for i in ports], dtype=object)
    bound = np.array([f"10.200.{i >> 8 & 0xFF}.{i & 0xFF}" for i in ports], dtype=object)
    spoofed = np.array([f"10.99.{i >> 8 & 0xFF}.{i & 0xFF}" for i in ports], dtype=object)
    for b in range(N_BUCKETS):
        bad = (ports % 2 == 0) & (b >= 50)
        n = len(ports)
        writer.write(
            {
                "time": np.full(n, np.datetime64(1_767_225_600 + b, "s")).astype("datetime64[ns]"),
                "segment": np.full(n, "geneve:5001", dtype=object),
                "encap": np.full(n, "geneve", dtype=object),
                "mac": macs,
                "src_ip": np.where(bad, spoofed, bound),
                "tunnel_endpoint": np.full(n, "172.16.0.1", dtype=object),
                "packets": np.full(n, 10, np.int64),
                "bytes": np.full(n, 6000, np.int64),
                "destinations": np.full(n, 2, np.int64),
                "unbound_packets": np.where(bad, 10, 0).astype(np.int64),
                "bound": ~bad,
            }
        )
    writer.close({"packets": N_PORTS * N_BUCKETS * 10, "captures": [{"name": "big.pcap"}]})
    del pd


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if not ALERTS.exists():
        write_alerts()
    if not TIMELINE.exists():
        write_timeline()
    print("\nspoofwatch report at scale (wall time of the command, start-up included):")
    for label, extra in (
        (f"{N_ALERTS:,} alerts", []),
        (
            f"{N_ALERTS:,} alerts + {N_PORTS * N_BUCKETS:,}-row timeline",
            ["--timeline", str(TIMELINE)],
        ),
    ):
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "detector", "report", "--alerts", str(ALERTS), *extra]
        subprocess.run([*cmd, "--out", str(OUT / "scale-report"), "--quiet"], check=True)
        print(f"  {label:<50} {time.perf_counter() - started:6.1f} s")


if __name__ == "__main__":
    main()
