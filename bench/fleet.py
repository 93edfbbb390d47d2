"""`make bench`, the fleet: replay --jobs N against one process, and claims/s against PostgreSQL.

Parallel replay: the bench capture end to end (wall time, start-up included), `--jobs 1`, 2
(read-ahead threads) and 3 (a reading process and two judging by segment) on this machine's
two cores, once, as an archive, and with [anomaly], each the best of three runs; and a replay
where judging is most of the work (IPFIX records of ports nothing taught: every record takes
the exact path), one run. Claims: a
throw-away cluster (Debian's postgresql, as the tests make it); each collector is a process
of its own sending first-use claims through the claimer thread (batches of 512, a transaction
each), timed from the first claim queued to the last one settled; one collector, two with
ports of their own, two that claim the same ports (every claim contended: half refused).
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detector.bindings.fleet import FleetStore  # noqa: E402
from detector.bindings.pgschema import Claim  # noqa: E402
from detector.config.state import StateConfig  # noqa: E402
from detector.values import Binding, Evidence, Method, PortKey  # noqa: E402
from tests.integration.daemon_util import free_port  # noqa: E402
from tests.pgcluster import AVAILABLE, Cluster  # noqa: E402

PY = sys.executable
CAPTURE = ROOT / "bench" / "out" / "bench-1m.pcap"
CLAIMS = 40_000
ARCHIVE = 8


def replay_rate(jobs: int, captures: list[Path], *extra: str, runs: int = 3) -> float:
    """Packets/s, wall time (start-up included), of the best of `runs` replays of `captures`
    (the bench capture: the first pass learns every port, the next ones are settled)."""
    command = [PY, "-m", "detector", "replay", "--jobs", str(jobs), "--alerts", "/dev/null"]
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(
            [*command, *extra, *map(str, captures)], capture_output=True, text=True, check=True
        )
        best = min(best, time.perf_counter() - t0)
    return int(done.stderr.split(" packets,")[0].rsplit(" ", 1)[-1].replace(",", "")) / best


def claimer(url: str, name: str, first: int, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = FleetStore(StateConfig(url=url, collector=name, queue_max=count))
    store.start()
    t0 = time.perf_counter()
    for i in range(first, first + count):
        port = PortKey(
            f"geneve:{9000 + i % 50}",
            f"02:00:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
        )
        address = (
            f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
            if name == "a"
            else f"10.200.{i >> 8 & 255}.{i & 255}"
        )
        store.claim(Claim(port, Binding(address, Method.ARP, Evidence("bench", i, i)), 1))
    while sum(n for k, n in store.stats.items() if k.startswith("claims:")) < count:
        time.sleep(0.005)
    out.put((name, time.perf_counter() - t0, dict(store.stats)))
    store.close()


def claims(cluster: Cluster, runs: list[tuple[str, int]]) -> tuple[float, dict[str, int]]:
    """Claims/s of collectors (name, first port) claiming CLAIMS ports each, at once."""
    cluster.sql("TRUNCATE spoofwatch_bindings")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=claimer, args=(cluster.url, n, first, CLAIMS, out)) for n, first in runs
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    seconds = max(r[1] for r in results)
    outcomes: dict[str, int] = {}
    for _, _, stats in results:
        for k, n in stats.items():
            if k.startswith("claims:"):
                outcomes[k[7:]] = outcomes.get(k[7:], 0) + n
    return CLAIMS * len(runs) / seconds, outcomes


def main() -> None:
    if not CAPTURE.exists():
        subprocess.run([PY, str(ROOT / "bench" / "gen.py"), str(CAPTURE)], check=True)
    print("\nreplay --jobs: packets/s end to end (wall time, start-up included), 2 cores")
    print(f"  {'workload':<44} {'--jobs 1':>10} {'--jobs 2':>10} {'--jobs 3':>10}  speed-up")
    model = ROOT / "bench" / "out" / "bench-model.npz"
    anomaly = ROOT / "bench" / "out" / "anomaly.toml"
    anomaly.write_text(f'[anomaly]\nmodel = "{model}"\n')
    flows = ROOT / "bench" / "out" / "ipfix-mac-600k.pcap"
    if not flows.exists():
        subprocess.run([PY, str(ROOT / "bench" / "gen_ipfix.py"), str(flows), "600000"], check=True)
    for label, captures, extra, runs in (
        ("the capture once (every port learned)", [CAPTURE], (), 3),
        (f"{ARCHIVE} x the capture (an archive, mostly settled)", [CAPTURE] * ARCHIVE, (), 3),
        (
            f"{ARCHIVE // 2} x the capture with [anomaly]",
            [CAPTURE] * (ARCHIVE // 2),
            ("--config", str(anomaly)),
            3,
        ),
        ("IPFIX: 20k messages, 600k unlearned records", [flows], (), 1),
    ):
        if extra and not model.exists():
            continue  # bench.py trains it
        rates = [replay_rate(jobs, captures, *extra, runs=runs) for jobs in (1, 2, 3)]
        shown = " ".join(f"{r:>10,.0f}" for r in rates)
        ups = " / ".join(f"{r / rates[0]:.2f}x" for r in rates[1:])
        print(f"  {label:<44} {shown}  {ups}", flush=True)
    if not AVAILABLE:
        print("claims: PostgreSQL is not installed (make .sysdeps)")
        return
    cluster = Cluster(free_port())
    cluster.start()
    try:
        FleetStore(StateConfig(url=cluster.url, collector="setup")).close()  # the schema
        print(flush=True)
        print(f"claims settled by PostgreSQL ({CLAIMS:,} per collector, first use of each port)")
        for label, runs in (
            ("one collector", [("a", 0)]),
            ("two collectors, ports of their own", [("a", 0), ("b", CLAIMS)]),
            ("two collectors, the same ports", [("a", 0), ("b", 0)]),
        ):
            rate, outcomes = claims(cluster, runs)
            said = ", ".join(f"{k} {n:,}" for k, n in sorted(outcomes.items()))
            print(f"  {label:<36} {rate:>10,.0f} claims/s   ({said})", flush=True)
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
