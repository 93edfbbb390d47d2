"""The batch path and the exact per-frame path give the same alerts, counts and per-port
timeline, everywhere."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from detector.config.detectors import EngineConfig
from detector.config.settings import Config
from detector.fast.packets import path as fastpath
from detector.fast.timeline.path import Timeline
from detector.fast.timeline.thread import BackgroundTimeline
from detector.runners.pipeline import Pipeline
from detector.sinks.jsonl import dumps
from tests.conftest import PCAPS, ROOT, MemorySink, real_captures, real_id

BENCH_SLICE = ROOT / "bench" / "out" / "agreement-20k.pcap"


def run(paths: list[str], fast: bool, untunnelled: bool = False, background: bool = False):  # type: ignore[no-untyped-def]
    cfg = Config()
    cfg = dataclasses.replace(cfg, engine=EngineConfig(inspect_untunnelled=untunnelled))
    sink = MemorySink()
    chunks: list[dict[str, object]] = []
    kind = BackgroundTimeline if background else Timeline
    timeline = kind(chunks.append, bucket_seconds=0.005)  # small buckets: many of them
    pipeline = Pipeline(cfg, sink, timeline=timeline)
    pipeline.batches.enabled = fast and not untunnelled
    pipeline.replay(paths)
    stats = pipeline.stats
    rows = [tuple(map(str, row)) for c in chunks for row in zip(*c.values(), strict=True)]
    summary = (
        stats.packets,
        stats.bytes,
        dict(stats.frames),
        dict(stats.errors),
        dict(pipeline.engine.stats.frames),
        dict(pipeline.engine.stats.findings),
        (timeline.late, timeline.splits),
    )
    return [dumps(a) for a in sink.alerts], summary, rows


@pytest.fixture(autouse=True)
def every_batch_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastpath, "MIN_BATCH", 1)


def samples() -> list[Path]:
    return sorted(PCAPS.glob("*.pcap"))


@pytest.mark.parametrize("path", samples(), ids=lambda p: p.name)
def test_samples_agree(path: Path) -> None:
    assert run([str(path)], fast=True) == run([str(path)], fast=False)


def test_all_samples_in_one_run_agree() -> None:
    paths = [str(p) for p in samples()]
    assert run(paths, fast=True) == run(paths, fast=False)
    assert run(paths, fast=True, background=True) == run(paths, fast=False)


def test_real_captures_agree() -> None:
    paths = [str(p) for p in real_captures()]
    if not paths:
        pytest.skip("../shared/pcaps-real is absent")
    for path in paths:
        assert run([path], fast=True) == run([path], fast=False), real_id(Path(path))


def test_benchmark_traffic_with_spoofing_agrees(tmp_path: Path) -> None:
    """20k packets of benchmark traffic with spoofed, moved and conflicting frames mixed in."""
    import subprocess
    import sys

    base = tmp_path / "base.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen.py"), str(base), "20000"], check=True)
    mixed = tmp_path / "mixed.pcap"
    _inject_trouble(base, mixed)
    fast, exact = run([str(mixed)], fast=True), run([str(mixed)], fast=False)
    assert fast == exact
    assert len(fast[2]) > 1000 and any(row[-1] == "False" for row in fast[2])  # unbound rows
    assert run([str(mixed)], fast=True, background=True) == fast  # on the worker thread too
    kinds = {line.split('"kind":"')[1].split('"')[0] for line in fast[0]}
    assert {"unbound-source", "mac-move", "arp-conflict", "binding-limit"} <= kinds


def _inject_trouble(src: Path, dst: Path) -> None:
    """Rewrite some records: new source IPs, other tunnel endpoints, ARP claims of others."""
    import random
    import struct

    data = bytearray(src.read_bytes())
    rng = random.Random(7)
    pos, n = 24, 0
    arp_senders: list[bytes] = []
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        p = pos + 16
        inner = p + 42 + (8 + (data[p + 42] & 0x3F) * 4 if data[p + 37] == 0xC1 else 8)
        et = data[inner + 12 : inner + 14]
        if n > 1000 and et == b"\x08\x00" and rng.random() < 0.002:
            data[inner + 26 : inner + 30] = bytes([10, 66, rng.randrange(4), 1])  # spoofed source
        elif n > 1000 and rng.random() < 0.001:
            data[p + 26 : p + 30] = bytes([172, 16, 9, 9])  # another tunnel endpoint: a move
        elif et == b"\x08\x06":
            arp_senders.append(bytes(data[inner + 28 : inner + 32]))
            roll = rng.random()
            if n > 1000 and roll < 0.05:
                data[inner + 28 : inner + 32] = rng.choice(arp_senders)  # claims another's IP
            elif n > 1000 and roll < 0.07:
                data[inner + 28 : inner + 32] = bytes([10, 77, rng.randrange(4), 1])  # a new IP
        pos = p + incl
        n += 1
    dst.write_bytes(bytes(data))
