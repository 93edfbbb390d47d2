"""`make bench`: packets/s of spoofwatch and of the baselines, measured in one run, as ratios.

Each method runs in its own process on the same page-cached capture; the time is measured
inside the process from opening the file to the result (interpreter start-up and imports are
left out, as in the baseline study), the wall time of the whole process is shown beside it, and
peak RSS comes from the kernel (wait4). Slow tools run on a slice and are marked extrapolated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PY = sys.executable

METHODS = {
    "spoofwatch replay (end to end)": "replay",
    "spoofwatch replay --timeline (end to end)": "timeline",
    "spoofwatch replay with [anomaly] (end to end)": "anomaly",
    "spoofwatch replay, table already learned": "steady",
    "spoofwatch batch decode only": "columns",
    "struct loop (reference)": "struct",
    "dpkt": "dpkt",
    "scapy (full dissection)": "scapy",
    "tshark -T fields": "tshark",
}
# This VM is noisy: quick methods run several times and the median run is reported.
REPEAT = {
    "replay": 5,
    "timeline": 5,
    "anomaly": 5,
    "steady": 5,
    "columns": 5,
    "ipfix": 5,
    "struct": 3,
}


def child(method: str, path: str) -> None:
    """Run one method and print {"packets": n, "seconds": s} on stdout."""
    if method in ("replay", "timeline", "anomaly", "columns", "steady", "ipfix"):
        warm()  # imports, and loading numba's compiled kernels, happen before the clock
    t0 = time.perf_counter()
    n = globals()[f"run_{method}"](path)
    if method == "steady":
        t0 = STEADY_T0[0]
    print(json.dumps({"packets": n, "seconds": time.perf_counter() - t0}))


def warm() -> None:
    """Call every compiled kernel once on a bundled sample, so that loading numba's cache is
    start-up (like imports), not throughput; the wall column still counts it."""
    from detector.fast.flows import columns as flowcols
    from detector.fast.packets import path as fastpath
    from detector.sources import pcap

    saved = fastpath.MIN_BATCH, pcap.FAST_WALK_BYTES
    fastpath.MIN_BATCH, pcap.FAST_WALK_BYTES = 1, 0
    run_replay(str(ROOT / "pcaps" / "geneve-ip-change.pcap"))
    run_timeline(str(ROOT / "pcaps" / "geneve-ip-change.pcap"))
    if MODEL.exists():
        run_anomaly(str(ROOT / "pcaps" / "geneve-ip-change.pcap"))
    fastpath.MIN_BATCH, pcap.FAST_WALK_BYTES = saved
    flowcols.warm()


def run_replay(path: str) -> int:
    from detector.config.settings import Config
    from detector.runners.pipeline import Pipeline
    from detector.sinks.jsonl import JsonlSink

    sink = JsonlSink(os.devnull)
    pipeline = Pipeline(Config(), sink)
    report = pipeline.replay([path])
    sink.close()
    if report.failures:
        raise SystemExit(f"bench: {report.failures[0]}")
    return pipeline.stats.packets


def run_timeline(path: str) -> int:
    """Replay that also writes the per-port timeline (1 s buckets, Parquet), as --timeline does
    (its aggregation on a worker thread)."""
    from detector.config.settings import Config
    from detector.fast.timeline.thread import BackgroundTimeline
    from detector.runners.pipeline import Pipeline
    from detector.sinks.jsonl import JsonlSink
    from detector.sinks.timeline_files import TimelineWriter

    writer = TimelineWriter(OUT / "bench-timeline.parquet", 1.0)
    sink = JsonlSink(os.devnull)
    pipeline = Pipeline(Config(), sink, timeline=BackgroundTimeline(writer.write))
    report = pipeline.replay([path])
    writer.close(pipeline.timeline_meta(report.captures))
    sink.close()
    return pipeline.stats.packets


MODEL = OUT / "bench-model.npz"  # trained on the benchmark capture's own 10 s windows


def run_anomaly(path: str) -> int:
    """Replay with the anomaly detector on: every frame is counted into its port's window,
    and each closed window is scored against the model."""
    from detector.config.anomaly import AnomalyConfig
    from detector.config.settings import Config
    from detector.runners.pipeline import Pipeline
    from detector.sinks.jsonl import JsonlSink

    sink = JsonlSink(os.devnull)
    pipeline = Pipeline(Config(anomaly=AnomalyConfig(str(MODEL))), sink)
    pipeline.replay([path])
    sink.close()
    return pipeline.stats.packets


def run_steady(path: str) -> int:
    """The capture again through a table that already knows every port: the steady state,
    where no frame needs the exact path. Only the second pass is timed (see child())."""
    from detector.config.settings import Config
    from detector.runners.pipeline import Pipeline
    from detector.sinks.jsonl import JsonlSink

    pipeline = Pipeline(Config(), JsonlSink(os.devnull))
    pipeline.replay([path])
    STEADY_T0[0] = time.perf_counter()
    pipeline.replay([path])
    return pipeline.stats.packets // 2


STEADY_T0 = [0.0]


def run_columns(path: str) -> int:
    from detector.config.decode import DecodeConfig
    from detector.fast.packets import columns as col
    from detector.sources.capture import CaptureFile

    cfg = DecodeConfig()
    masks = (
        col.port_mask(cfg.geneve_ports),
        col.port_mask(cfg.vxlan_ports),
        col.port_mask(cfg.geneve_ports | cfg.vxlan_ports | cfg.vxlan_gpe_ports),
    )
    n = 0
    for b in CaptureFile(path).batches():
        col.decode(b.buf, b.offsets, b.caplens, b.linktypes, masks)
        n += len(b)
    return n


def run_struct(path: str) -> int:
    """The tight loop of the baseline study ("e2"): one precompiled Struct per record reads the
    record length and every outer field at fixed offsets (network-order fields compared with
    byte-swapped constants), a second reads inner MAC, ethertype and IPv4 source."""
    import struct

    with open(path, "rb") as f:
        data = f.read()
    # record header, then outer ethertype, IPv4 ver/IHL, proto, UDP dport, tunnel byte 0, VNI
    outer = struct.Struct("<8xI4x12xHB8xB12xHH4xB3x3s")
    inner = struct.Struct("<6x6sH12x4s")
    geneve_port, ipv4 = 0xC117, 0x0008  # 6081 and 0x0800 read little-endian
    pos, n, end = 24, 0, len(data)
    seen = set()
    add = seen.add
    unpack, unpack_inner = outer.unpack_from, inner.unpack_from
    while pos < end:
        incl, _et, _vihl, _proto, _sport, dport, b0, vni = unpack(data, pos)
        at = pos + 16 + 50 + ((b0 & 0x3F) * 4 if dport == geneve_port else 0)
        mac, et, src = unpack_inner(data, at)
        add((vni, mac, src if et == ipv4 else b""))
        pos += 16 + incl
        n += 1
    return n


def run_dpkt(path: str) -> int:
    import dpkt

    n, seen = 0, set()
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            udp = eth.data.data
            payload = bytes(udp.data)
            off = 8 + (payload[0] & 0x3F) * 4 if udp.dport == 6081 else 8
            vni = int.from_bytes(payload[4:7], "big")
            inner = dpkt.ethernet.Ethernet(payload[off:])
            src = inner.data.src if isinstance(inner.data, dpkt.ip.IP) else b""
            seen.add((vni, inner.src, src))
            n += 1
    return n


def run_scapy(path: str) -> int:
    from scapy.all import PcapReader  # full dissection, every layer

    n = 0
    with PcapReader(path) as reader:
        for pkt in reader:
            pkt.lastlayer()
            n += 1
    return n


def run_tshark(path: str) -> int:
    proc = subprocess.run(
        [
            "tshark",
            "-r",
            path,
            "-T",
            "fields",
            "-e",
            "geneve.vni",
            "-e",
            "vxlan.vni",
            "-e",
            "eth.src",
            "-e",
            "ip.src",
            "-E",
            "occurrence=a",
        ],
        capture_output=True,
        check=True,
    )
    return proc.stdout.count(b"\n")


def measure(method: str, path: str) -> dict[str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PY, __file__, "--child", method, path], stdout=subprocess.PIPE, cwd=ROOT
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"bench: {method} failed (status {status})")
    result = json.loads(out.splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    result["rss_mb"] = usage.ru_maxrss / 1024
    return result


def median(method: str, path: str) -> dict[str, float]:
    """The median run of REPEAT[method] (by time), with the highest peak RSS of them all."""
    runs = sorted((measure(method, path) for _ in range(REPEAT.get(method, 1))), key=seconds)
    middle = dict(runs[len(runs) // 2])
    middle["rss_mb"] = max(r["rss_mb"] for r in runs)
    middle["runs"] = len(runs)
    return middle


def seconds(run: dict[str, float]) -> float:
    return run["seconds"]


def startup(runs: int = 9) -> float:
    """Start-up: the wall time of replaying the 19-packet demo capture, against importing numpy
    alone (the floor of any command), medians of `runs` processes each. Target: at most 3x."""

    def wall(argv: list[str]) -> float:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - t0)
        return sorted(times)[runs // 2]

    demo = str(ROOT / "pcaps" / "geneve-ip-change.pcap")
    numpy_s = wall([PY, "-c", "import numpy"])
    replay_s = wall([PY, "-m", "detector", "replay", demo])
    ratio = replay_s / numpy_s
    print(
        f"\nstart-up: replay of the demo capture {replay_s:.2f} s, import numpy {numpy_s:.2f} s:"
        f" {ratio:.1f}x (target: at most 3x; medians of {runs} runs)",
        flush=True,
    )
    return ratio


def main() -> None:
    if sys.argv[1:] == ["startup"]:
        startup()
        return
    startup()
    big, small = OUT / "bench-1m.pcap", OUT / "bench-50k.pcap"
    if not big.exists():
        print("bench: writing the 1M-packet benchmark capture (seeded, ~650 MB) ...", flush=True)
        subprocess.run([PY, ROOT / "bench" / "gen.py", big, "1000000"], check=True)
    if not small.exists():
        subprocess.run([PY, ROOT / "bench" / "gen.py", small, "50000"], check=True)
    subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True)  # page cache
    if not MODEL.exists():
        print("bench: training the behaviour model on the benchmark capture ...", flush=True)
        train = ["model", "train", str(big), "--out", str(MODEL)]
        subprocess.run([PY, "-m", "detector", *train], check=True)
    measure("replay", str(small))  # compile numba's kernels into its on-disk cache
    rows = []
    for label, method in METHODS.items():
        path = small if method in ("scapy", "tshark") else big
        r = median(method, str(path))
        rate = per_second(r)
        rows.append((label + (" (50k slice, extrapolated)" if path == small else ""), r, rate))
        print(f"  measured {label}: {rate:,.0f} packets/s", file=sys.stderr, flush=True)
    ref = next(rate for label, _, rate in rows if label.startswith("struct loop"))
    print(
        f"\n{'method':<52} {'packets/s':>12} {'× struct':>9} {'time s':>8} {'wall s':>8}"
        f" {'peak RSS MB':>12} {'runs':>5}"
    )
    for label, r, rate in rows:
        print(
            f"{label:<52} {rate:>12,.0f} {rate / ref:>9.2f} {r['seconds']:>8.2f}"
            f" {r['wall']:>8.2f} {r['rss_mb']:>12.0f} {r['runs']:>5.0f}"
        )
    print("(each row is the median of its runs; time excludes start-up, wall includes it)")
    rate = {label: r for label, _, r in rows}
    share = (
        rate["spoofwatch replay --timeline (end to end)"] / rate["spoofwatch replay (end to end)"]
    )
    print(f"replay with --timeline runs at {share:.0%} of replay without it (target: at least 70%)")
    share = (
        rate["spoofwatch replay with [anomaly] (end to end)"]
        / rate["spoofwatch replay (end to end)"]
    )
    print(f"replay with [anomaly] runs at {share:.0%} of replay without it (target: at least 70%)")
    table_memory()
    ipfix_rates()
    subprocess.run([PY, ROOT / "bench" / "nsx_pull.py"], check=True)
    subprocess.run([PY, ROOT / "bench" / "report_scale.py"], check=True)
    subprocess.run([PY, ROOT / "bench" / "fleet.py"], check=True)
    subprocess.run([PY, ROOT / "bench" / "live.py"], check=True)


def ipfix_messages(messages: int = 20_000, per: int = 30) -> tuple[bytes, list[bytes]]:
    """A template (softflowd's shape: addresses, MAC, VLAN, counters, ports) and data messages."""
    import struct

    fields = [(8, 4), (12, 4), (56, 6), (58, 2), (2, 8), (1, 8), (7, 2), (11, 2), (4, 1)]
    tset = struct.pack("!HH", 256, len(fields)) + b"".join(
        struct.pack("!HH", i, n) for i, n in fields
    )
    template = (
        struct.pack("!HHIII", 10, 20 + len(tset), 0, 0, 1)
        + struct.pack("!HH", 2, 4 + len(tset))
        + tset
    )
    rec = struct.Struct("!4s4s6sHQQHHB")
    out = []
    for m in range(messages):
        body = b"".join(
            rec.pack(
                bytes([10, 0, m % 250, i]),
                bytes([10, 0, 0, 1]),
                bytes([2, 0, 0, 0, m % 250, i]),
                10,
                3,
                1500,
                1024 + i,
                443,
                6,
            )
            for i in range(per)
        )
        out.append(
            struct.pack("!HHIII", 10, 20 + len(body), 0, m * per, 1)
            + struct.pack("!HH", 256, 4 + len(body))
            + body
        )
    return template, out


def ipfix_rates() -> None:
    """IPFIX records/s: decoding (to columns, to dicts), a struct loop, and replay end to end."""
    import struct

    from detector.decoders.ipfix.decoder import IpfixDecoder

    template, messages = ipfix_messages()

    def timed(count: Any) -> tuple[int, float]:
        """Records and the median records/s of five runs, each with a fresh decoder."""
        rates = []
        for _ in range(5):
            decoder = IpfixDecoder()
            decoder.feed(template, "bench")
            t0 = time.perf_counter()
            n = count(decoder)
            rates.append(n / (time.perf_counter() - t0))
        return n, sorted(rates)[2]

    n, columns = timed(
        lambda d: sum(len(s.columns()) for m in messages for s in d.feed_sets(m, "bench"))
    )
    _, dicts = timed(lambda d: sum(len(d.feed(m, "bench")) for m in messages))
    rec = struct.Struct("!4s4s6sHQQHHB")
    _, base = timed(lambda _: sum(1 for msg in messages for _ in rec.iter_unpack(msg[20:])))
    replays = {}
    for name, extra in (("mac", []), ("vif", ["--vif"])):
        flows = OUT / f"ipfix-{name}-600k.pcap"
        if not flows.exists():
            gen = [PY, ROOT / "bench" / "gen_ipfix.py", flows, "600000", *extra]
            subprocess.run(gen, check=True)
        replays[name] = median("ipfix", str(flows))
    title = f"IPFIX, one fixed template, {n:,} records"
    print(f"\n  {title:<66} {'records/s':>12} {'× struct':>9}")
    for label, rate in (
        ("decode to columns (templates, checks, numpy columns)", columns),
        ("decode to dicts (what `spoofwatch flows` prints)", dicts),
        ("struct.iter_unpack loop (no template logic, no checks)", base),
        *(
            (f"spoofwatch replay end to end, {r['packets']:,} {kind} records", per_second(r))
            for kind, r in (("MAC-keyed", replays["mac"]), ("VIF-keyed", replays["vif"]))
        ),
    ):
        print(f"  {label:<66} {rate:>12,.0f} {rate / base:>9.2f}")
    rss = max(r["rss_mb"] for r in replays.values())
    print(
        "  (NSX-style flows, bench/gen_ipfix.py; each replay learns from first-seen flows;"
        f" median of {replays['mac']['runs']:.0f} runs; peak RSS {rss:.0f} MB)"
    )


def per_second(run: dict[str, float]) -> float:
    return run["packets"] / run["seconds"]


def run_ipfix(path: str) -> int:
    """Replay NSX-style IPFIX records, learning bindings from first-seen flows."""
    import dataclasses

    from detector.config.bindings import TrustPolicy
    from detector.config.settings import Config
    from detector.runners.pipeline import Pipeline
    from detector.sinks.jsonl import JsonlSink

    config = dataclasses.replace(Config(), trust=TrustPolicy(learn_from_flows=True))
    pipeline = Pipeline(config, JsonlSink(os.devnull))
    pipeline.replay([path])
    return pipeline.stats.frames["ipfix"]


TABLE_SHAPES = {
    "ipv4": "one ARP binding a port, behind one of 200 tunnel endpoints",
    "dual": "dual stack: one ARP and two ND bindings a port",
}


def run_table(ports: str, shape: str) -> int:
    """Fill a binding table the way the engine does (learn, then the endpoint); print bytes."""
    import gc
    import resource

    from detector.bindings.table import BindingTable
    from detector.config.bindings import BindingPolicy
    from detector.values import Evidence, Method, PortKey

    n = int(ports)
    table = BindingTable(BindingPolicy(max_ports=n))
    hosts = [f"172.16.{h // 250}.{h % 250 + 1}" for h in range(200)]
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(n):
        b = i.to_bytes(4, "big")
        port = PortKey(f"geneve:{5000 + i % 50}", "02:00:" + b.hex(":"))
        ev = Evidence("bench.pcap", i, 1_790_000_000_000_000_000 + i)
        table.ensure(port)
        table.learn(port, f"10.{b[1]}.{b[2]}.{b[3]}", Method.ARP, ev)
        if shape == "dual":
            table.learn(port, f"fe80::{b[1]:x}:{b[2]:x}:{b[3]:x}", Method.ND, ev)
            table.learn(port, f"2001:db8::{b[1]:x}:{b[2]:x}:{b[3]:x}", Method.ND, ev)
        table.move(port, hosts[i % 200])
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    assert len(table) == n and table.binding_count() == n * (3 if shape == "dual" else 1)
    per = grown / table.binding_count()
    print(json.dumps({"packets": n, "seconds": 1, "bytes_per_binding": per}))
    return n


def table_memory(ports: int = 1_000_000) -> None:
    """Bytes per binding of a table of `ports` ports, for each shape of port."""
    print()
    for shape, what in TABLE_SHAPES.items():
        out = subprocess.run(
            [PY, __file__, "--table", str(ports), shape],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        per = json.loads(out.stdout.splitlines()[-1])["bytes_per_binding"]
        print(
            f"binding table, {ports:,} ports, {what}: {per:,.0f} bytes per binding"
            " (peak RSS growth)"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--table":
        run_table(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "ipv4")
    else:
        main()
