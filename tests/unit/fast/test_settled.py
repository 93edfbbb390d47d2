"""The settled-key cache under hostile traffic: a MAC clone flapping between two tunnel endpoints
on every packet must not make the batch path rebuild its cache per packet, and the keyed hash
must spread keys that differ only in their high bits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scapy.all import IP, Ether, rdpcap, wrpcap

from detector.config.settings import Config
from detector.fast import settled as settled_mod
from detector.fast.packets import columns as col
from detector.fast.packets import path as fastpath
from detector.runners.pipeline import Pipeline
from detector.sinks.jsonl import dumps
from tests.conftest import PCAPS, MemorySink


def flapping_capture(path: Path, moves: int = 600) -> Path:
    """The seed story's first 8 packets, then vm2's reply cloned behind 172.16.0.2 and a foreign
    tunnel endpoint in turn, interleaved with vm1's settled traffic."""
    packets = rdpcap(str(PCAPS / "geneve-ip-change.pcap"))
    out = list(packets[:8])
    t = float(packets[7].time)
    for i in range(moves):
        clone = Ether(bytes(packets[7]))
        if i % 2:
            clone[IP].src = "172.16.0.9"
            del clone[IP].chksum
        clone.time = t + (i + 1) * 1e-4
        normal = Ether(bytes(packets[6]))
        normal.time = clone.time + 5e-5
        out += [clone, normal]
    wrpcap(str(path), out)
    return path


def replay(path: Path, fast: bool) -> tuple[list[str], object, Pipeline]:
    pipeline = Pipeline(Config(), MemorySink())
    pipeline.batches.enabled = fast
    pipeline.replay([str(path)])
    alerts = [dumps(a) for a in pipeline.sink.alerts]  # type: ignore[attr-defined]
    summary = (dict(pipeline.stats.frames), dict(pipeline.engine.stats.findings))
    return alerts, summary, pipeline


def test_a_flapping_clone_costs_no_cache_rebuild_per_packet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastpath, "MIN_BATCH", 1)
    capture = flapping_capture(tmp_path / "flap.pcap")
    rebuilds = []
    rebuild = settled_mod.SettledKeys._rebuild

    def counted(self, capacity, drop=None):  # type: ignore[no-untyped-def]
        rebuilds.append(drop is not None)
        rebuild(self, capacity, drop)

    monkeypatch.setattr(settled_mod.SettledKeys, "_rebuild", counted)
    alerts, summary, pipeline = replay(capture, fast=True)
    assert pipeline.batches.flapping >= 590  # every move after the second
    assert sum(rebuilds) <= 3, f"{sum(rebuilds)} rebuilds for {600} moves"
    exact_alerts, exact_summary, _ = replay(capture, fast=False)
    assert (alerts, summary) == (exact_alerts, exact_summary)
    assert any('"kind":"mac-move"' in a for a in alerts)


def test_the_keyed_hash_spreads_keys_that_differ_only_in_high_bits() -> None:
    n = 4096
    keys = np.zeros((9, n), dtype=np.uint64)
    keys[0], keys[1], keys[3] = 1, 5001, 2
    keys[2] = 0x020000000001  # one MAC
    keys[5] = (np.arange(n, dtype=np.uint64) << np.uint64(20)) | np.uint64(7)  # same low bits
    hashes = np.empty(n, dtype=np.uint64)
    col.kernels().mix(keys, hashes, col.HASH_SEED)
    slots = hashes & np.uint64((1 << 14) - 1)
    assert len(np.unique(slots)) > 0.7 * n  # a multiply-only hash put them all in one slot
    other = np.empty(n, dtype=np.uint64)
    col.kernels().mix(keys, other, np.uint64(int(col.HASH_SEED) ^ 1))
    assert not np.array_equal(hashes, other)  # the seed keys it
