"""Every fuzz target runs clean on its seeds: the harness `make fuzz` drives is sound."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.conftest import PCAPS
from tests.fuzz.targets import ALLOWED, TARGETS, seeds


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_keeps_its_property_on_every_seed(name: str) -> None:
    found = seeds(name)
    assert found, name
    for data in found:
        with contextlib.suppress(*ALLOWED):
            TARGETS[name](data)


def test_the_capture_target_catches_a_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The differential check can fail: make the batch path drop a counter and see it caught."""
    from detector.fast.packets import path as packets
    from tests.fuzz import targets

    original = packets.BatchPath._count
    monkeypatch.setattr(packets.BatchPath, "_count", lambda self, cols, settled: None)
    data = (PCAPS / "geneve-ip-change.pcap").read_bytes()
    with pytest.raises(AssertionError, match="disagree"):
        targets.capture(data)
    monkeypatch.setattr(packets.BatchPath, "_count", original)
    targets.capture(data)


def test_the_reader_target_catches_a_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader differential can fail: a compiled walk that loses a nanosecond is caught."""
    from detector.sources import walk
    from tests.fuzz import targets

    original = walk.walk

    def off_by_one(*args: object) -> tuple[int, int, bool]:
        n, pos, corrupt = original(*args)
        args[-1][:n] += 1  # type: ignore[index]
        return n, pos, corrupt

    monkeypatch.setattr(walk, "walk", off_by_one)
    data = (PCAPS / "geneve-ip-change.pcap").read_bytes()
    with pytest.raises(AssertionError, match="walks disagree"):
        targets.reader(data)
    monkeypatch.setattr(walk, "walk", original)
    targets.reader(data)


def test_the_columns_target_catches_a_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel differential can fail: columns with one bit of the inner source MAC wrong."""
    import numpy as np

    from detector.fast.packets import columns
    from tests.fuzz import batch_targets

    record = next(s for s in seeds("columns") if _kernel_code(s) == columns.IPV4)
    original = columns.decode

    def wrong(*args: object) -> columns.Columns:
        cols = original(*args)  # type: ignore[arg-type]
        cols.keys[2] ^= np.uint64(1)
        return cols

    monkeypatch.setattr(columns, "decode", wrong)
    with pytest.raises(AssertionError, match="disagree"):
        batch_targets.columns(record)
    monkeypatch.undo()
    batch_targets.columns(record)


def _kernel_code(record: bytes) -> int:
    from tests.fuzz import batch_targets

    return int(batch_targets.kernel_columns(record)[2].code[0])


REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*/*"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: f"{p.parent.name}/{p.name[:14]}")
def test_every_input_the_fuzzer_broke_us_with_is_fixed(path: Path) -> None:
    with contextlib.suppress(*ALLOWED):
        TARGETS[path.parent.name](path.read_bytes())


def test_the_nsx_targets_catch_what_they_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The NSX properties can fail: a pull whose document a snapshot load refuses, and manager
    text that would reach a terminal unescaped, are both caught."""
    from detector.nsx import pull, snapshot
    from tests.fuzz import nsx_targets

    regressions = Path(__file__).parent / "regressions"
    surrogate = (regressions / "nsx_api" / "lone-surrogate-in-a-name.json").read_bytes()
    escapes = (regressions / "nsx_snapshot" / "text-with-escapes-and-a-surrogate.json").read_bytes()
    monkeypatch.setattr(snapshot, "printable", lambda value: value)
    with pytest.raises(AssertionError, match="reaches a terminal"):
        nsx_targets.nsx_snapshot(escapes)
    with pytest.raises(AssertionError, match="reaches a terminal"):
        nsx_targets.nsx_api(surrogate)
    monkeypatch.undo()
    original = pull.pull
    monkeypatch.setattr(pull, "pull", lambda client: {**original(client), "version": 99})
    with pytest.raises(AssertionError, match="a pull that a snapshot load refuses"):
        nsx_targets.nsx_api(nsx_targets.seeds_api()[0])
    monkeypatch.undo()
    nsx_targets.nsx_api(surrogate)
    nsx_targets.nsx_snapshot(escapes)
