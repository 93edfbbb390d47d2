"""IPFIX records through the batch path give the same alerts and counts as the exact path."""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.config.bindings import TrustPolicy
from detector.config.settings import Config
from detector.fast.packets import path as fastpath
from detector.runners.pipeline import Pipeline
from detector.sinks.jsonl import dumps
from detector.values import RecordBatch
from tests.conftest import ROOT, MemorySink
from tests.unit.fast.test_flowcols import flow_sets

RECORDS = 30_000


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NSX-style flows with unbound sources, borrowed addresses and moves mixed in."""
    path = tmp_path_factory.mktemp("ipfix") / "flows.pcap"
    gen = ROOT / "bench" / "gen_ipfix.py"
    subprocess.run([sys.executable, str(gen), str(path), str(RECORDS), "--trouble"], check=True)
    return path


def run(path: Path, fast: bool, learn: bool, bindings: str | None = None):  # type: ignore[no-untyped-def]
    cfg = dataclasses.replace(
        Config(), trust=TrustPolicy(learn_from_flows=learn), bindings_file=bindings
    )
    sink = MemorySink()
    pipeline = Pipeline(cfg, sink)
    pipeline.batches.enabled = fast
    pipeline.replay([str(path)])
    summary = (
        pipeline.stats.packets,
        dict(pipeline.stats.frames),
        dict(pipeline.stats.skipped),
        dict(pipeline.engine.stats.frames),
        dict(pipeline.engine.stats.findings),
        dict(pipeline.decoder.ipfix.stats),
    )
    return [dumps(a) for a in sink.alerts], summary, pipeline.batches.flows.settled


@pytest.mark.parametrize("min_batch", [1, 256])
def test_first_seen_flows_agree_and_most_records_settle(
    capture: Path, min_batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastpath, "MIN_BATCH", min_batch)
    fast_alerts, fast_summary, settled = run(capture, fast=True, learn=True)
    exact_alerts, exact_summary, none = run(capture, fast=False, learn=True)
    assert (fast_alerts, fast_summary) == (exact_alerts, exact_summary)
    assert none == 0 and settled > 0.9 * fast_summary[1]["ipfix"]
    kinds = {line.split('"kind":"')[1].split('"')[0] for line in fast_alerts}
    assert {"unbound-source", "binding-limit", "mac-move"} <= kinds
    assert any('"impersonates":{' in line for line in fast_alerts)


def test_flows_checked_against_a_bindings_file_agree(capture: Path, tmp_path: Path) -> None:
    """learn_from_flows off: the bindings come from a file, as an operator would export them."""
    cfg = dataclasses.replace(Config(), trust=TrustPolicy(learn_from_flows=True))
    pipeline = Pipeline(cfg, MemorySink())
    pipeline.replay([str(capture)])
    rows = ["segment,mac,address"]
    for port, binding in pipeline.table.items():
        rows.append(f"{port.segment},{port.mac},{binding.address}")
    file = tmp_path / "bindings.csv"
    file.write_text("\n".join(rows) + "\n")
    fast = run(capture, fast=True, learn=False, bindings=str(file))
    exact = run(capture, fast=False, learn=False, bindings=str(file))
    assert fast[:2] == exact[:2] and fast[2] > 0.9 * fast[1][1]["ipfix"]
    assert any('"kind":"unbound-source"' in line for line in fast[0])


def test_vif_keyed_flows_settle_by_what_is_judged_and_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NSX often names the port by VIF, not MAC: no key columns for those, but records equal in
    every judged element settle alike, with the same results."""
    monkeypatch.setattr(fastpath, "MIN_BATCH", 1)
    path = tmp_path / "vif.pcap"
    gen = ROOT / "bench" / "gen_ipfix.py"
    subprocess.run([sys.executable, str(gen), str(path), "6000", "--trouble", "--vif"], check=True)
    fast, exact = run(path, fast=True, learn=True), run(path, fast=False, learn=True)
    assert fast[:2] == exact[:2] and fast[2] > 0.5 * fast[1][1]["ipfix"]
    assert any('"mac":"vif:5d1e3c1a-' in line for line in fast[0])
    assert any('"kind":"mac-move"' in line for line in fast[0])


def _batch(messages: list[bytes]) -> RecordBatch:
    """Each message in its own UDP datagram from 192.0.2.7 to the collector."""
    from detector.sources.udp import outer_header

    buf, offsets, lengths = b"", [], []
    for m in messages:
        frame = (outer_header("192.0.2.7", "192.0.2.9", 4739, len(m)) or b"") + m
        offsets.append(len(buf))
        lengths.append(len(frame))
        buf += frame
    n = len(messages)
    return RecordBatch.of("fuzz", buf, offsets, lengths, lengths, [10**18] * n, [1] * n, 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_sets(), st.booleans())
def test_any_template_and_records_agree_and_never_raise(case, learn: bool) -> None:  # type: ignore[no-untyped-def]
    """Hostile templates and records, learned from or not: no exception, fast equals exact."""
    fields, body = case
    tset = struct.pack("!HH", 300, len(fields))
    for enterprise, ie, n in fields:
        tset += (
            struct.pack("!HHI", ie | 0x8000, n, enterprise)
            if enterprise
            else struct.pack("!HH", ie, n)
        )
    sets = (
        struct.pack("!HH", 2, 4 + len(tset)) + tset + struct.pack("!HH", 300, 4 + len(body)) + body
    )
    message = struct.pack("!HHIII", 10, 16 + len(sets), 1_767_225_600, 0, 1) + sets
    saved, fastpath.MIN_BATCH = fastpath.MIN_BATCH, 1  # the walk, with its re-checks
    try:
        assert replay_twice(message, learn, fast=True) == replay_twice(message, learn, fast=False)
    finally:
        fastpath.MIN_BATCH = saved


def replay_twice(message: bytes, learn: bool, fast: bool):  # type: ignore[no-untyped-def]
    """Alerts and engine counters of a batch of the message twice, sent twice (the second
    time, what the first one taught is settled)."""
    cfg = dataclasses.replace(Config(), trust=TrustPolicy(learn_from_flows=learn))
    sink = MemorySink()
    pipeline = Pipeline(cfg, sink)
    pipeline.batches.enabled = fast
    for _ in range(2):
        sink.emit(pipeline.batches.process(_batch([message, message])))
    engine = pipeline.engine.stats
    return [dumps(a) for a in sink.alerts], dict(engine.frames), dict(engine.findings)
