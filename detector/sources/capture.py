"""Where records come from: capture files (pcap, pcapng, gzip, stdin); live sources join later."""

from __future__ import annotations

import functools
import gzip
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from detector.errors import CaptureError
from detector.values import RecordBatch

if TYPE_CHECKING:
    from detector.sources import pcap

CHUNK_BYTES = 2 << 20
GROW_FROM = 64 << 10  # the first chunk of a stream of unknown length
READ_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError
INFLATE_STEP = 16 << 10
# A record longer than this is a corrupt header, not a packet (jumbo frames are 9 KB).
MAX_RECORD_BYTES = 1 << 24


@dataclass(slots=True)
class CaptureInfo:
    """What a reader learned about its input while reading it."""

    name: str
    size: int | None = None  # bytes on disk, when known
    position: int = 0  # bytes of the file consumed so far (compressed bytes for .gz)
    records: int = 0
    truncated: str | None = None  # why the last record was cut short, if it was
    warnings: list[str] = field(default_factory=list)


def _position(raw: BinaryIO) -> int:
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0


class CaptureFile:
    """A capture file (or `-` for standard input) read as a stream of batches in bounded memory."""

    def __init__(
        self, path: str, chunk_bytes: int = CHUNK_BYTES, chunks: pcap.Chunks | None = None
    ) -> None:
        self.path = path
        self.chunk_bytes = chunk_bytes
        self.chunks = chunks  # where a classic pcap is read into (default: two buffers in turn)
        self.info = CaptureInfo(name=path)

    def _open(self) -> BinaryIO:
        if self.path == "-":
            if sys.stdin.isatty():
                raise CaptureError("-: standard input is a terminal; pipe a capture into it")
            raw: BinaryIO = sys.stdin.buffer
        else:
            try:
                raw = open(self.path, "rb")  # noqa: SIM115 - closed in batches()
                self.info.size = os.fstat(raw.fileno()).st_size
            except OSError as exc:
                raise CaptureError(f"{self.path}: cannot open: {exc.strerror}") from exc
        return raw

    def _buffers(self, plain: bool) -> pcap.Buffers:
        """No chunk larger than a plain file, and for a stream of unknown length (gzip, a
        pipe) chunks that grow from GROW_FROM: a small capture costs no megabytes of buffers."""
        from detector.sources import pcap

        if plain and self.info.size is not None:
            return pcap.Buffers(max(min(self.chunk_bytes, self.info.size), 64))
        return pcap.Buffers(self.chunk_bytes, start=GROW_FROM)

    def batches(self) -> Iterator[RecordBatch]:
        """Yield the capture's records in order; raise CaptureError for unreadable input."""
        items = self.stages()
        walk = next(items)
        yield from walk(items)

    def stages(self) -> Iterator[Any]:
        """The capture in two stages, which two threads may run: the first item is the walk
        (a function of the items after it that yields the batches); the items of a classic
        pcap are raw chunks (detector.sources.pcap.fill) it walks, any other's its batches."""
        from detector.sources import pcap, pcapng

        raw = stream = self._open()
        gz = None
        try:
            magic = _peek(stream, 4)
            if magic[:2] == b"\x1f\x8b":
                gz = _ToTheCut(gzip.GzipFile(fileobj=cast(BinaryIO, _Prefixed(magic, raw))))
                stream = cast(BinaryIO, gz)
                magic = _peek_gz(gz, self.path)
            body = _Prefixed(magic, stream)
            try:
                if magic == b"\x0a\x0d\x0d\x0a":
                    yield _whole
                    yield from pcapng.read(body, self, lambda: _position(raw))
                elif magic[:2] == b"\x00\x0a":
                    from detector.sources import messages

                    yield _whole
                    yield from messages.read(body, self)
                elif magic in pcap.MAGICS:
                    head = pcap.header(body, self.path)
                    yield functools.partial(pcap.walk_batches, head=head, capture=self)
                    chunks = self.chunks or self._buffers(stream is raw)
                    yield from pcap.fill(body, chunks, lambda: _position(raw))
                elif not magic:
                    raise CaptureError(f"{self.path}: empty file, not a capture")
                else:
                    raise CaptureError(
                        f"{self.path}: not a pcap, pcapng or IPFIX message file"
                        f" (starts with {magic.hex()})"
                    )
            except READ_ERRORS as exc:
                raise CaptureError(f"{self.path}: read failed: {exc}") from exc
            if gz is not None and gz.failed is not None:  # every record before it was read
                raise CaptureError(
                    f"{self.path}: read failed: {gz.failed} (the records before it were read)"
                ) from gz.failed
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()


def _whole(items: Iterable[RecordBatch]) -> Iterator[RecordBatch]:
    """The walk of a reader whose items are batches already."""
    yield from items


def _peek(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    return data if data is not None else b""


def _peek_gz(stream: _ToTheCut, path: str) -> bytes:
    magic = stream.read(4)
    if len(magic) < 4 and stream.failed is not None:
        raise CaptureError(f"{path}: corrupt gzip stream: {stream.failed}") from stream.failed
    return magic


class _ToTheCut:
    """A gzip stream read up to its last good byte: where it fails (cut short, a corrupt
    block) it ends, as a plain file cut short does, and `failed` keeps why. It inflates in
    steps of INFLATE_STEP whatever the caller asks for: gzip loses what one step inflated
    before a corrupt block, so with the caller's sizes what a damaged capture yields would
    depend on the chunk size (a stream cut short loses nothing)."""

    def __init__(self, stream: gzip.GzipFile) -> None:
        self.stream = stream
        self.failed: BaseException | None = None
        self.step, self.at = b"", 0  # the last inflate step, and how much of it was read

    def _inflate(self) -> bool:
        """The next step; False at the end of the stream or where it fails."""
        self.step, self.at = b"", 0
        if self.failed is None:
            try:
                self.step = self.stream.read1(INFLATE_STEP)
            except READ_ERRORS as exc:
                # without its traceback: its frames hold this stream and the chunk buffers,
                # a cycle the collector frees only now and then (RSS grew 250 MB in 400 reads)
                self.failed = exc.with_traceback(None)
        return bool(self.step)

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self.read(INFLATE_STEP), b""))
        parts = []
        while n > 0 and (self.at < len(self.step) or self._inflate()):
            piece = self.step[self.at : self.at + n]
            self.at, n = self.at + len(piece), n - len(piece)
            parts.append(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, b: bytearray | memoryview) -> int:
        with memoryview(b) as whole, whole.cast("B") as view:
            have = 0
            while have < len(view) and (self.at < len(self.step) or self._inflate()):
                k = min(len(view) - have, len(self.step) - self.at)
                view[have : have + k] = self.step[self.at : self.at + k]
                self.at, have = self.at + k, have + k
            return have


class _Prefixed:
    """A read-only stream that first returns bytes already read from another."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self.prefix = prefix
        self.stream = stream

    def read(self, n: int = -1) -> bytes:
        if self.prefix:
            head, self.prefix = self.prefix, b""
            if n < 0:
                return head + self.stream.read()
            if n <= len(head):
                head, self.prefix = head[:n], head[n:]
                return head
            return head + self.stream.read(n - len(head))
        data = self.stream.read(n)
        return data if data is not None else b""

    def readinto(self, b: bytearray | memoryview) -> int:
        if self.prefix:
            n = min(len(b), len(self.prefix))
            b[:n] = self.prefix[:n]
            self.prefix = self.prefix[n:]
            return n
        return int(cast(Any, self.stream).readinto(b))


def each_batch(paths: Iterable[str], failures: list[str]) -> Iterator[RecordBatch]:
    """The batches of every capture in turn; an unreadable one is noted in `failures`."""
    for path in paths:
        try:
            yield from CaptureFile(path).batches()
        except CaptureError as exc:
            failures.append(str(exc))
