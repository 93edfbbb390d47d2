"""Read-ahead hands out what reading in turn does: the same batches, intact while judged, with
failures in their place, a thread's crash raised, and its threads gone when the caller leaves."""

from __future__ import annotations

import gzip
import hashlib
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from detector.config.decode import DecodeConfig
from detector.errors import CaptureError
from detector.fast.packets import columns as col
from detector.runners.ahead import Ahead
from detector.sources.capture import CaptureFile
from detector.values import RecordBatch
from tests.conftest import PCAPS

ROOT = Path(__file__).resolve().parents[3]
CHUNK = 64 << 10  # many batches, so the buffer pool goes round many times
MASKS = col.masks(DecodeConfig())


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ahead") / "bench.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen.py"), str(path), "6000"], check=True)
    return path


def decode(batch: RecordBatch) -> col.Columns:
    return col.decode(batch.buf, batch.offsets, batch.caplens, batch.linktypes, MASKS)


def digest(batch: RecordBatch) -> tuple[int, int, str]:
    """What a batch holds: its first packet's number, its size, a hash of every record."""
    h = hashlib.sha256()
    for off, cap in zip(batch.offsets.tolist(), batch.caplens.tolist(), strict=True):
        h.update(bytes(batch.buf[off : off + cap]))
    h.update(batch.ts_ns.tobytes() + batch.origlens.tobytes())
    return batch.first_number, len(batch), h.hexdigest()


def test_the_batches_are_those_read_in_turn_and_stay_intact_while_judged(capture: Path) -> None:
    paths = [str(capture), str(PCAPS / "geneve-ip-change.pcap"), str(capture)]
    expected = []
    for path in paths:
        for batch in CaptureFile(path, CHUNK).batches():
            expected.append((path, digest(batch), decode(batch).keys.tobytes()))
    got: list[Any] = []
    source = ""
    for item in Ahead(paths, decode, chunk_bytes=CHUNK):
        if item[0] == "capture":
            source = item[1].name
            continue
        assert item[0] == "batch"
        batch, cols = item[1], item[2]
        before = digest(batch)
        time.sleep(0.002)  # a slow judge: the threads run ahead and go round the pool
        assert digest(batch) == before, "a batch was overwritten while it was judged"
        got.append((source, before, cols.keys.tobytes()))
    assert len(expected) > 3 * (2 * 3 + 3)  # the pool went round more than three times
    assert got == expected


def in_turn(paths: list[str]) -> list[Any]:
    """What reading each capture in turn gives: batches, and where one fails, its failure."""
    out: list[Any] = []
    for path in paths:
        try:
            out.extend(digest(b) for b in CaptureFile(path, CHUNK).batches())
        except CaptureError as exc:
            out.append(str(exc))
    return out


def ahead(paths: list[str]) -> list[Any]:
    """What read-ahead gives, taken by a slow judge (the threads run ahead of it)."""
    out: list[Any] = []
    for item in Ahead(paths, decode, chunk_bytes=CHUNK):
        if item[0] == "batch":
            time.sleep(0.001)
            out.append(digest(item[1]))
        elif item[0] == "failed":
            out.append(item[1])
    return out


def test_a_capture_that_fails_midway_fails_in_its_place_and_the_next_goes_on(
    capture: Path, tmp_path: Path
) -> None:
    data = capture.read_bytes()
    corrupt = tmp_path / "corrupt.pcap"  # a record header claims 1 GiB, some chunks in
    at = 24
    while at < 300_000:
        at += 16 + int.from_bytes(data[at + 8 : at + 12], "little")
    corrupt.write_bytes(data[: at + 8] + (1 << 30).to_bytes(4, "little") + data[at + 12 :])
    cut = tmp_path / "cut.pcap.gz"  # a gzip stream that stops halfway
    packed = gzip.compress(data)
    cut.write_bytes(packed[: len(packed) // 2])
    paths = [str(corrupt), str(capture), str(cut), str(PCAPS / "geneve-ip-change.pcap")]
    expected = in_turn(paths)
    failures = [x for x in expected if isinstance(x, str)]
    assert len(failures) == 2 and "corrupt record header" in failures[0]
    assert "read failed" in failures[1]
    assert ahead(paths) == expected


def test_a_record_larger_than_a_chunk_comes_whole(capture: Path, tmp_path: Path) -> None:
    data = capture.read_bytes()
    giant = tmp_path / "giant.pcap"  # a 300 KB record between ordinary ones, chunks of 64 KB
    record = struct.pack("<IIII", 1_767_225_600, 0, 300_000, 300_000) + bytes(300_000)
    giant.write_bytes(_cut(data, 400) + record + data[24:])
    expected = in_turn([str(giant)])
    assert sum(n for _, n, _ in expected) == 400 + 1 + 6000
    assert ahead([str(giant)]) == expected


def _cut(data: bytes, records: int) -> bytes:
    """The file header and the first `records` records of a capture."""
    at = 24
    for _ in range(records):
        at += 16 + int.from_bytes(data[at + 8 : at + 12], "little")
    return data[:at]


def test_an_unreadable_capture_is_reported_in_its_place(capture: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pcap"
    items = list(Ahead([str(PCAPS / "geneve-ip-change.pcap"), str(missing)], decode))
    kinds = [item[0] for item in items]
    assert kinds == ["capture", "batch", "capture", "failed"]
    assert items[3][1].startswith(f"{missing}: cannot open")


def test_a_crash_of_a_thread_is_raised_to_the_caller(capture: Path) -> None:
    seen = []

    def broken(batch: RecordBatch) -> col.Columns:
        if len(seen) == 2:
            raise RuntimeError("kernel blew up")
        seen.append(batch)
        return decode(batch)

    with pytest.raises(RuntimeError, match="kernel blew up"):
        for _ in Ahead([str(capture)], broken, chunk_bytes=CHUNK):
            pass
    assert not [t for t in threading.enumerate() if t.name.endswith("-ahead")]


def test_leaving_early_stops_the_threads(capture: Path) -> None:
    ahead = Ahead([str(capture)] * 3, decode, chunk_bytes=CHUNK)
    for item in ahead:
        if item[0] == "batch":
            break
    assert not any(t.is_alive() for t in ahead.threads)  # not left blocked on a full queue
