"""Shared slots hold a batch as the reader left it, for another mapping of the same file; the
pcap walk stops when its columns are full and goes on in the next chunk."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from detector.sources.capture import CaptureFile
from detector.sources.pcap import Buffers, Chunk
from detector.sources.slots import DATA, ROWS, Slots
from detector.values import RecordBatch
from tests.conftest import PCAPS


@pytest.fixture
def slots() -> Iterator[Slots]:
    made = Slots.create(2)
    yield made
    made.unlink()
    made.close()


def records(batch: RecordBatch) -> list[bytes]:
    return [
        bytes(batch.buf[o : o + c])
        for o, c in zip(batch.offsets.tolist(), batch.caplens.tolist(), strict=True)
    ]


def test_a_batch_put_in_a_slot_is_the_same_batch_in_another_mapping(slots: Slots) -> None:
    batch = next(CaptureFile(str(PCAPS / "geneve-incident.pcap")).batches())
    assert slots.put(1, batch)
    keys = np.arange(9 * len(batch), dtype=np.uint64).reshape(9, len(batch))
    hashes, dst = keys[0] * 7, keys[:3] + 1
    slots.put_decoded(1, keys, hashes, dst)
    other = Slots.attach(slots.path, slots.count)
    try:
        again = other.batch(1, len(batch), batch.source, batch.first_number)
        assert records(again) == records(batch)
        for name in ("caplens", "origlens", "ts_ns", "linktypes"):
            assert getattr(again, name).tolist() == getattr(batch, name).tolist()
        got = other.get_decoded(1, len(batch))
        assert [g.tolist() for g in got] == [keys.tolist(), hashes.tolist(), dst.tolist()]
        slots.put_decoded(1, keys * 0, hashes * 0, dst * 0)
        assert got[0].tolist() == keys.tolist()  # copies: the slot may be filled again
    finally:
        other.close()


def test_a_batch_larger_than_a_slot_is_refused(slots: Slots) -> None:
    n = ROWS + 1
    big = RecordBatch.of("big", b"x" * 64, [0] * n, [64] * n, [64] * n, [0] * n, [1] * n, 1)
    assert not slots.put(0, big)
    wide = RecordBatch.of("wide", b"x" * (DATA + 1), [0], [DATA + 1], [DATA + 1], [0], [1], 1)
    assert not slots.put(0, wide)


class FewRows:
    """Chunks of plenty of bytes but room for three records in each."""

    def __init__(self) -> None:
        self.pool = Buffers(1 << 16)
        self.size, self.head = self.pool.size, self.pool.head

    def next(self) -> Chunk:
        buf, *cols = self.pool.next()
        return buf, *(c[:3] for c in cols)  # type: ignore[return-value]


def test_a_walk_that_fills_its_columns_goes_on_in_the_next_chunk() -> None:
    path = str(PCAPS / "geneve-incident.pcap")
    whole = [r for b in CaptureFile(path).batches() for r in records(b)]
    batches = list(CaptureFile(path, chunks=FewRows()).batches())
    assert len(whole) > 6 and all(len(b) <= 3 for b in batches)
    assert [b.first_number for b in batches] == list(range(1, len(whole) + 1, 3))
    got = []
    for b in CaptureFile(path, chunks=FewRows()).batches():
        got.extend(records(b))  # each batch read before the next chunk is
    assert got == whole
