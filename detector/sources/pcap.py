"""Classic libpcap files: both byte orders, microsecond and nanosecond magic, read in chunks.

Format: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html (24-byte file header,
16-byte record headers).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from detector.errors import CaptureError
from detector.values import RecordBatch

if TYPE_CHECKING:
    from detector.sources.capture import CaptureFile

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
Raw = tuple[Chunk, int, int, int]  # a chunk, its room, the bytes read, the file position then


class Chunks(Protocol):
    """Where the reader puts each chunk: `size` fresh bytes after `head` bytes of room for
    what the chunk before left over, and columns of equal length (a walk that fills them
    stops; the rest is walked with the next chunk). `size` and `head` are those of the chunk
    `next()` lent last, so they may change from one chunk to the next; `size` is never 0
    (Buffers grows them). A chunk must stay untouched while the one after it is read."""

    size: int
    head: int

    def next(self) -> Chunk: ...


class Buffers:
    """`count` chunk buffers with their columns, used in turn: a batch stays valid while the
    next count - 1 are read, and no fresh memory is faulted in per chunk. From `start` bytes
    (a stream of unknown length: gzip, a pipe) the chunks grow fourfold up to `size`, so a
    small capture costs no megabytes of zeroed buffers and a large one soon reads in full."""

    GROWTH = 4

    def __init__(self, size: int, count: int = 2, start: int | None = None) -> None:
        self.limit = size
        self.size = min(start or size, size)  # of the next chunk until next(), then its own
        self.head = self.size // 8
        self.sets: list[Chunk | None] = [None] * count
        self.turn, self.handed = 0, False

    def next(self) -> Chunk:
        if self.handed:
            self.size = min(self.size * self.GROWTH, self.limit)
            self.head = self.size // 8
        self.handed = True
        self.turn = (self.turn + 1) % len(self.sets)
        chunk = self.sets[self.turn]
        if chunk is None or len(chunk[0]) < self.head + self.size:
            rows = (self.head + self.size) // 16 + 1
            cols = (np.empty(rows, dtype=np.int64) for _ in range(4))
            chunk = self.sets[self.turn] = (bytearray(self.head + self.size), *cols)  # type: ignore[assignment]
        return chunk  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Header:
    """The file header's word on the records: byte order, time unit, link type."""

    big: bool
    ns_per_unit: int
    linktype: int


def header(stream: Readable, name: str) -> Header:
    """Read the 24-byte file header (after the magic was recognised)."""
    raw = stream.read(24)
    if len(raw) < 24:
        raise CaptureError(f"{name}: pcap file header cut short ({len(raw)} of 24 bytes)")
    endian, ns_per_unit = MAGICS[raw[:4]]
    linktype = struct.unpack_from(endian + "I", raw, 20)[0] & 0xFFFF  # upper bits: FCS info
    return Header(endian == ">", ns_per_unit, linktype)


def fill(stream: Readable, chunks: Chunks, where: Callable[[], int]) -> Iterator[Raw]:
    """The reading stage: chunks of up to `size` fresh bytes, placed after the room."""
    while True:
        chunk = chunks.next()
        size, head = chunks.size, chunks.head  # a chunk's own: Buffers may grow them
        if size < 1:  # no read could end the stream: a loop without end
            raise ValueError(f"{type(chunks).__name__} lends a chunk of {size} bytes")
        view = memoryview(chunk[0])[head : head + size]
        have = 0
        while have < size:
            got = stream.readinto(view[have:])
            if not got:
                break
            have += got
        view.release()
        if have:
            yield chunk, head, have, where()
        if have < size:
            return


def walk_batches(raws: Iterable[Raw], head: Header, capture: CaptureFile) -> Iterator[RecordBatch]:
    """The walking stage: each chunk, after what the one before left over, as a batch."""
    from detector.sources.capture import MAX_RECORD_BYTES

    info = capture.info
    walk: Callable[..., tuple[int, int, bool]] = _py_walk
    if info.size is None or info.size > FAST_WALK_BYTES:
        from detector.sources import walk as compiled

        walk = compiled.walk
    number, pending, full, rows = 1, b"", False, 0
    buf: bytearray | memoryview
    for raw in itertools.chain(raws, itertools.repeat(None)):
        if raw is None:  # the stream has ended; full columns left whole records over
            if not (pending and full):
                break
            # columns as long as the last chunk's, of their own (that chunk may be in use)
            offs, caps, origs, ts = (np.empty(rows, dtype=np.int64) for _ in range(4))
            buf, start, end = bytearray(pending), 0, len(pending)
        else:
            (buf, offs, caps, origs, ts), room, have, info.position = raw
            rows = len(offs)
            if len(pending) <= room:
                start, end = room - len(pending), room + have
                buf[start:room] = pending
            else:  # more left over than there is room for: a buffer of both
                buf = bytearray(pending) + buf[room : room + have]
                start, end = 0, len(buf)
        data = np.frombuffer(buf, dtype=np.uint8)[start:end]
        n, pos, corrupt = walk(
            data if walk is not _py_walk else memoryview(buf)[start:end],
            end - start,
            head.big,
            head.ns_per_unit,
            MAX_RECORD_BYTES,
            offs,
            caps,
            origs,
            ts,
        )
        full = n == len(offs)
        pending = bytes(buf[start + pos : end])
        if n:  # the whole records before a corrupt header too, wherever the chunks began
            offs[:n] += start
            info.records += n
            links = np.full(n, head.linktype, dtype=np.int64)
            yield RecordBatch(info.name, buf, offs[:n], caps[:n], origs[:n], ts[:n], links, number)
            number += n
        if corrupt:
            raise CaptureError(
                f"{info.name}: corrupt record header after packet {number - 1}"
                f" (claims more than {MAX_RECORD_BYTES} bytes)"
            )
    if pending:
        rec = struct.Struct((">" if head.big else "<") + "IIII")
        yield from _truncated_tail(pending, rec, head.ns_per_unit, head.linktype, number, capture)


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
