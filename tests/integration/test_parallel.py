"""`replay --jobs N` writes what `--jobs 1` writes, byte for byte, and the same summary: with
--jobs 2 (reading and decoding on threads ahead of the judging) and --jobs 3 (a reading
process and two judging processes, each a shard of the segments)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scapy.contrib.geneve import GENEVE
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.utils import wrpcap

from tests.conftest import BEHAVIOUR, PCAPS, needs_real, real_captures

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(r" in [\d.]+ s \([\d,]+ packets/s\)")  # the one line that may differ


def replay(*args: str) -> tuple[int, bytes, str]:
    done = subprocess.run(
        [sys.executable, "-m", "detector", "replay", *args], capture_output=True, timeout=600
    )
    return done.returncode, done.stdout, SUMMARY.sub("", done.stderr.decode())


def same(*args: str, jobs: tuple[int, ...] = (2, 3)) -> bytes:
    serial = replay(*args)
    for n in jobs:
        assert replay("--jobs", str(n), *args) == serial, f"--jobs {n} differs"
    return serial[1]


def test_every_sample_in_one_run() -> None:
    out = same(*sorted(str(p) for p in PCAPS.glob("*.pcap")))
    segments = {json.loads(line)["segment"] for line in out.splitlines()}
    assert len(segments) >= 4  # alerts of many segments, not an empty agreement


def test_the_bench_capture_with_spoofing_injected(tmp_path: Path) -> None:
    capture = tmp_path / "bench.pcap"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen.py"), str(capture), "20000"], check=True
    )
    frames = subprocess.run(
        [sys.executable, "-m", "detector", "decode", str(capture)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.splitlines()
    seen, spoofs = set(), []
    for line in frames[1000:]:
        f = json.loads(line)
        if f["src_ip"] and f["vni"] not in seen and len(seen) < 12:
            seen.add(f["vni"])  # one VM in each of 12 segments borrows another address
            inner = Ether(src=f["src_mac"], dst=f["dst_mac"]) / IP(
                src="10.0.0.250", dst=f["dst_ip"]
            )
            tunnel = (
                GENEVE(vni=f["vni"], proto=0x6558)
                if f["encap"] == "geneve"
                else VXLAN(vni=f["vni"], flags=0x08)
            )
            port = 6081 if f["encap"] == "geneve" else 4789
            outer = Ether() / IP(src=f["outer_src"], dst=f["outer_dst"]) / UDP(dport=port)
            for i in range(3):
                p = outer / tunnel / inner
                p.time = 1_767_225_600 + 3600 + len(spoofs) + i
                spoofs.append(p)
    wrpcap(str(capture), spoofs, append=True)
    out = same(str(capture))
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert kinds.count("unbound-source") >= 12


def test_behaviour_windows_merge_in_order(behaviour_model: Path, tmp_path: Path) -> None:
    config = tmp_path / "anomaly.toml"
    config.write_text(f'[anomaly]\nmodel = "{behaviour_model}"\n')
    captures = sorted(str(p) for p in BEHAVIOUR.glob("attack-*.pcap.gz"))
    out = same("--config", str(config), *captures)
    assert b'"kind":"anomaly"' in out


@needs_real
def test_the_real_captures() -> None:
    found = real_captures()
    assert found
    same(*map(str, found))


def test_the_timeline_of_jobs_2_is_that_of_one_thread(tmp_path: Path) -> None:
    captures = sorted(str(p) for p in PCAPS.glob("*.pcap"))
    written = []
    for jobs in ("1", "2"):
        timeline = tmp_path / f"t{jobs}.csv"
        code, _, _ = replay("--jobs", jobs, "--timeline", str(timeline), *captures)
        assert code == 0
        written.append(timeline.read_text())
    assert written[0] == written[1] and len(written[0].splitlines()) > 10


def test_a_timeline_is_not_written_by_several_processes(tmp_path: Path) -> None:
    code, _, err = replay(
        "--jobs", "3", "--timeline", str(tmp_path / "t.csv"), str(PCAPS / "geneve-ip-change.pcap")
    )
    assert code == 2 and err.strip().splitlines() == [
        "spoofwatch: error: --timeline is written by one process: use --jobs 2 at most,"
        " or drop --timeline"
    ]


@pytest.mark.parametrize("bad", ["0", "x", "999"])
def test_a_bad_job_count_is_refused(bad: str) -> None:
    code, _, err = replay("--jobs", bad, str(PCAPS / "geneve-ip-change.pcap"))
    assert code == 2 and "--jobs: expected 1 to 256 processes" in err


def test_two_shards_of_a_mirror_split_its_alerts_by_segment(tmp_path: Path) -> None:
    samples = sorted(str(p) for p in PCAPS.glob("*.pcap"))
    _, everything, _ = replay(*samples)
    parts = []
    for k in (1, 2):
        config = tmp_path / f"shard{k}.toml"
        config.write_text(f'[segments]\nshard = "{k}/2"\n')
        code, out, err = replay("--config", str(config), *samples)
        assert code == 0 and "other-shard" in err  # what it left to the other collector
        parts.append({json.loads(line)["segment"] for line in out.splitlines()})
        assert sorted(out.splitlines()) == sorted(
            line for line in everything.splitlines() if json.loads(line)["segment"] in parts[-1]
        )
    assert parts[0] and parts[1] and not parts[0] & parts[1]
    assert len(everything.splitlines()) == sum(
        1 for line in everything.splitlines() if json.loads(line)["segment"] in parts[0] | parts[1]
    )
    config = tmp_path / "only.toml"
    config.write_text('[segments]\nonly = ["vxlan:6001"]\n')
    _, out, _ = replay("--config", str(config), *samples)
    assert {json.loads(line)["segment"] for line in out.splitlines()} == {"vxlan:6001"}
    config.write_text('[segments]\nshard = "3/2"\n')
    code, _, err = replay("--config", str(config), *samples)
    assert code == 2 and 'segments.shard: expected "k/n"' in err


def test_a_worker_killed_mid_replay_ends_it_with_one_line(tmp_path: Path) -> None:
    capture = tmp_path / "bench.pcap"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen.py"), str(capture), "100000"], check=True
    )
    before = set(Path("/dev/shm").glob("spoofwatch-replay-*"))
    command = [sys.executable, "-m", "detector", "replay", "--jobs", "3", "--alerts", "/dev/null"]
    replaying = subprocess.Popen([*command, *[str(capture)] * 40], stderr=subprocess.PIPE)
    children = Path(f"/proc/{replaying.pid}/task/{replaying.pid}/children")
    deadline = time.monotonic() + 60
    while not children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # well into the replay
    os.kill(int(children.read_text().split()[0]), signal.SIGKILL)
    _, err = replaying.communicate(timeout=120)
    lines = err.decode().strip().splitlines()
    assert replaying.returncode == 1 and "Traceback" not in err.decode()
    assert re.fullmatch(
        r"spoofwatch: error: replay worker [12] of 2 ended without a word \(killed\? out of"
        r" memory\?\)",
        lines[-1],
    )
    assert set(Path("/dev/shm").glob("spoofwatch-replay-*")) == before  # nothing left behind
