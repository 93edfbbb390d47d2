"""Record batches in shared memory: one process reads the captures, `replay --jobs` workers judge.

A file in /dev/shm (or the temporary directory), mapped by every process, holds the slots.
A slot is one batch: its data (room for a classic-pcap chunk read straight into it, or a pcapng
chunk with the block it carried over), its five record columns and, when the reader decoded
them, the batch path's columns. The process that fills a slot names it to the others; it is
filled again only once every one of them has let it go.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile

import numpy as np
import numpy.typing as npt

from detector.errors import SpoofwatchError
from detector.sources.capture import CHUNK_BYTES
from detector.values import RecordBatch

DATA = CHUNK_BYTES + CHUNK_BYTES // 8  # a chunk and the room before it (a pcapng one and the
# block it carried over fit too)
ROWS = 32_768  # records a slot holds
COLS = 5  # offsets, caplens, origlens, ts_ns, linktypes
DECODED = 13  # the batch path's columns: 9 key rows, the hash, 3 destination rows
SLOT = DATA + (COLS + DECODED) * ROWS * 8
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


class Slots:
    """`count` slots over one mapped file; `create` makes the file, `attach` maps it again."""

    def __init__(self, path: str, count: int, fd: int) -> None:
        self.path = path
        self.count = count
        try:
            self.map = mmap.mmap(fd, count * SLOT, mmap.MAP_SHARED)
        finally:
            os.close(fd)
        self.cols = [
            np.frombuffer(self.map, np.int64, COLS * ROWS, i * SLOT + DATA).reshape(COLS, ROWS)
            for i in range(count)
        ]
        self.decoded = [
            np.frombuffer(
                self.map, np.uint64, DECODED * ROWS, i * SLOT + DATA + COLS * ROWS * 8
            ).reshape(DECODED, ROWS)
            for i in range(count)
        ]

    @classmethod
    def create(cls, count: int) -> Slots:
        """Make and reserve the file (in /dev/shm when it has room, else the temporary
        directory): a mapping of space the file system cannot give would fault at first touch."""
        failures = []
        for where in ("/dev/shm", tempfile.gettempdir()):
            try:
                fd, path = tempfile.mkstemp(prefix="spoofwatch-replay-", dir=where)
            except OSError as exc:
                failures.append(f"{where}: {exc.strerror}")
                continue
            try:
                os.posix_fallocate(fd, 0, count * SLOT)
            except OSError as exc:
                failures.append(f"{where}: {exc.strerror}")
                os.close(fd)
                os.unlink(path)
                continue
            return cls(path, count, fd)
        raise SpoofwatchError(
            f"no room for the {count * SLOT >> 20} MiB the replay workers share ("
            + "; ".join(failures)
            + "): free some in /dev/shm or TMPDIR, or drop --jobs"
        )

    @classmethod
    def attach(cls, path: str, count: int) -> Slots:
        return cls(path, count, os.open(path, os.O_RDWR))

    def data(self, i: int, size: int = DATA) -> memoryview:
        """The first `size` bytes of slot i's data, to read into."""
        return memoryview(self.map)[i * SLOT : i * SLOT + size]

    def chunk(self, i: int) -> tuple[memoryview, I64, I64, I64, I64]:
        """Slot i as a classic-pcap reader's chunk (detector.sources.pcap.Chunks)."""
        cols = self.cols[i]
        return self.data(i), cols[0], cols[1], cols[2], cols[3]

    def put(self, i: int, batch: RecordBatch) -> bool:
        """Copy a batch into slot i (False if it does not fit: it goes another way)."""
        n = len(batch)
        if not n:
            return True
        lo = int(batch.offsets.min())
        hi = int((batch.offsets + batch.caplens).max())
        if n > ROWS or hi - lo > DATA:
            return False
        base = i * SLOT
        self.map[base : base + hi - lo] = memoryview(batch.buf)[lo:hi]
        np.subtract(batch.offsets, lo, out=self.cols[i][0, :n])
        self.columns(i, batch)
        return True

    def columns(self, i: int, batch: RecordBatch) -> None:
        """Copy a batch's columns but the offsets into slot i (its data is already there)."""
        n = len(batch)
        cols = self.cols[i]
        for row, values in enumerate(
            (batch.caplens, batch.origlens, batch.ts_ns, batch.linktypes), start=1
        ):
            if not np.may_share_memory(cols[row], values):
                cols[row, :n] = values

    def put_decoded(self, i: int, keys: U64, hashes: U64, dst: U64) -> None:
        """Keep the batch path's columns of slot i's batch beside it."""
        n = len(hashes)
        out = self.decoded[i]
        out[:9, :n] = keys
        out[9, :n] = hashes
        out[10:, :n] = dst

    def get_decoded(self, i: int, n: int) -> tuple[U64, U64, U64]:
        """Copies of slot i's batch path columns (keys, hashes, destinations): they outlive
        the slot (the behaviour windows' thread reads them later)."""
        cols = self.decoded[i][:, :n]
        return cols[:9].copy(), cols[9].copy(), cols[10:].copy()

    def batch(self, i: int, n: int, source: str, first: int) -> RecordBatch:
        """Slot i as a batch over the whole mapping (offsets made absolute)."""
        cols = self.cols[i][:, :n]
        offsets: I64 = cols[0] + i * SLOT
        return RecordBatch(source, self.map, offsets, cols[1], cols[2], cols[3], cols[4], first)

    def unlink(self) -> None:
        """Remove the file's name (the mappings stay); at once when every worker has it."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def close(self) -> None:
        self.cols, self.decoded = [], []
        # a batch still pointing into it keeps the mapping until its last reference goes
        with contextlib.suppress(BufferError):
            self.map.close()
