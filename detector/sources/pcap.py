"""Classic libpcap files: both byte orders, microsecond and nanosecond magic, read in chunks.

Format: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html (24-byte file header,
16-byte record headers).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from detector.errors import CaptureError
from detector.model import RecordBatch

if TYPE_CHECKING:
    from detector.sources import CaptureFile

Arr = npt.NDArray[np.int64]
MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}


class Readable(Protocol):
    def read(self, n: int = -1) -> bytes: ...

    def readinto(self, b: bytearray | memoryview) -> int: ...


FAST_WALK_BYTES = 16 << 20  # above this size (or unknown size) the compiled walk pays off


def _py_walk(
    b: bytearray | memoryview,
    end: int,
    big: bool,
    ns_unit: int,
    max_rec: int,
    offs: Arr,
    caps: Arr,
    origs: Arr,
    ts: Arr,
) -> tuple[int, int, bool]:
    """The record walk in Python (same contract as detector.sources.walk): small captures."""
    rec = struct.Struct(">IIII" if big else "<IIII")
    pos = n = 0
    while pos + 16 <= end and n < len(offs):
        sec, frac, incl, orig = rec.unpack_from(b, pos)
        if incl > max_rec:
            return n, pos, True
        if pos + 16 + incl > end:
            break
        offs[n], caps[n], origs[n], ts[n] = (
            pos + 16,
            incl,
            orig,
            sec * 1_000_000_000 + frac * ns_unit,
        )
        n += 1
        pos += 16 + incl
    return n, pos, False


Chunk = tuple[bytearray | memoryview, Arr, Arr, Arr, Arr]  # data, offsets, caps, origs, ts


class Chunks(Protocol):
    """Where the reader puts each chunk: `size` bytes of data and columns of equal length (a
    walk that fills them stops; the rest of the chunk is read again into the next one). A
    chunk must stay untouched while the one after it is read."""

    size: int

    def next(self) -> Chunk: ...

    def grown(self) -> Chunks:
        """Chunks of twice the size (a record is larger than a chunk), as safe to hold."""
        ...


class Buffers:
    """`count` chunk buffers with their columns, used in turn: a batch stays valid while the
    next count - 1 are read, and no fresh memory is faulted in per chunk."""

    def __init__(self, size: int, count: int = 2) -> None:
        self.size = size
        rows = size // 16 + 1
        self.sets = [
            (bytearray(size), *(np.empty(rows, dtype=np.int64) for _ in range(4)))
            for _ in range(count)
        ]
        self.turn = 0

    def next(self) -> Chunk:
        self.turn = (self.turn + 1) % len(self.sets)
        return self.sets[self.turn]  # type: ignore[return-value]

    def grown(self) -> Buffers:
        return Buffers(self.size * 2, len(self.sets))


def read(stream: Readable, capture: CaptureFile, where: Callable[[], int]) -> Iterator[RecordBatch]:
    """Yield batches of records from a classic pcap stream."""
    from detector.sources import MAX_RECORD_BYTES

    info = capture.info
    header = stream.read(24)
    if len(header) < 24:
        raise CaptureError(f"{info.name}: pcap file header cut short ({len(header)} of 24 bytes)")
    endian, ns_per_unit = MAGICS[header[:4]]
    big = endian == ">"
    linktype = struct.unpack_from(endian + "I", header, 20)[0] & 0xFFFF  # upper bits: FCS info
    walk: Callable[..., tuple[int, int, bool]] = _py_walk
    if info.size is None or info.size > FAST_WALK_BYTES:
        from detector.sources import walk as compiled

        walk = compiled.walk
    buffers: Chunks = capture.chunks or Buffers(capture.chunk_bytes)
    number = 1
    pending = b""
    eof = full = False
    while not eof or full:
        buf, offs, caps, origs, ts = buffers.next()
        buf[: len(pending)] = pending
        have = len(pending)
        view = memoryview(buf)
        while have < len(buf):
            got = stream.readinto(view[have:])
            if not got:
                eof = True
                break
            have += got
        view.release()
        data = np.frombuffer(buf, dtype=np.uint8)
        n, pos, corrupt = walk(
            data if walk is not _py_walk else buf,
            have,
            big,
            ns_per_unit,
            MAX_RECORD_BYTES,
            offs,
            caps,
            origs,
            ts,
        )
        if corrupt:
            raise CaptureError(
                f"{info.name}: corrupt record header after packet {number + n - 1}"
                f" (claims more than {MAX_RECORD_BYTES} bytes)"
            )
        full = n == len(offs)  # the columns are full: what is left is walked next
        pending = bytes(buf[pos:have])
        info.position = where()
        if n:
            info.records += n
            links = np.full(n, linktype, dtype=np.int64)
            yield RecordBatch(info.name, buf, offs[:n], caps[:n], origs[:n], ts[:n], links, number)
            number += n
        elif not eof and len(pending) == buffers.size:
            buffers = buffers.grown()  # one record larger than the buffer
    if pending:
        yield from _truncated_tail(
            pending, struct.Struct(endian + "IIII"), ns_per_unit, linktype, number, capture
        )


def _truncated_tail(
    tail: bytes,
    rec: struct.Struct,
    ns_per_unit: int,
    linktype: int,
    number: int,
    capture: CaptureFile,
) -> Iterator[RecordBatch]:
    info = capture.info
    if len(tail) < 16:
        info.truncated = f"last record header cut short ({len(tail)} of 16 bytes)"
        return
    sec, frac, incl, orig = rec.unpack_from(tail, 0)
    have = len(tail) - 16
    info.truncated = f"packet {number} cut short ({have} of {incl} bytes); decoded what is there"
    info.records += 1
    yield RecordBatch.of(
        info.name,
        tail,
        [16],
        [have],
        [orig],
        [sec * 1_000_000_000 + frac * ns_per_unit],
        [linktype],
        number,
    )
