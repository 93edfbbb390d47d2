"""What every live source shares: its protocol, and a record batch filled from a socket.

A batch is handed over when full or at least every `flush` seconds, so an alert leaves within a
second of its packet.
"""

from __future__ import annotations

import select
import socket
import time
from typing import Protocol

from detector.config.settings import RunConfig
from detector.values import LINKTYPE_ETHERNET, RecordBatch

MAX_FRAME = 65536 + 64


class LiveSource(Protocol):
    """A source that is read until stopped."""

    name: str

    @classmethod
    def from_config(cls, run: RunConfig) -> LiveSource: ...

    def next_batch(self, flush: float) -> RecordBatch | None: ...

    def drops(self) -> dict[str, int]: ...

    def close(self) -> None: ...


class SocketBatcher:
    """Fills one buffer with records from a non-blocking socket until full or flush time."""

    def __init__(self, name: str, sock: socket.socket, max_batch: int) -> None:
        self.name = name
        self.sock = sock
        self.max_batch = max_batch
        self.buf = bytearray(min(max_batch, 8192) * 2048 + MAX_FRAME)  # full: the batch ends
        self.number = 1
        sock.setblocking(False)

    def collect(self, flush: float, receive: object) -> RecordBatch | None:
        """`receive(view)` reads one record into the view: (where it starts, its length)."""
        deadline = time.monotonic() + flush
        view = memoryview(self.buf)
        offsets: list[int] = []
        lengths: list[int] = []
        stamps: list[int] = []
        pos = 0
        while len(offsets) < self.max_batch and len(self.buf) - pos >= MAX_FRAME:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                break
            while len(offsets) < self.max_batch and len(self.buf) - pos >= MAX_FRAME:
                try:
                    skip, n = receive(view[pos:])  # type: ignore[operator]
                except BlockingIOError:
                    break
                if n:
                    offsets.append(pos + skip)
                    lengths.append(n)
                    stamps.append(time.time_ns())
                    pos += skip + n
        view.release()
        if not offsets:
            return None
        batch = RecordBatch.of(
            self.name,
            bytes(self.buf[:pos]),
            offsets,
            lengths,
            lengths,
            stamps,
            [LINKTYPE_ETHERNET] * len(offsets),
            self.number,
        )
        self.number += len(offsets)
        return batch


def enlarge_buffer(sock: socket.socket, size: int = 64 << 20) -> None:
    """A socket buffer that absorbs bursts (first-seen ports take the slow path): past
    net.core.rmem_max when CAP_NET_ADMIN allows (SO_RCVBUFFORCE), else as large as allowed."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, size)  # SO_RCVBUFFORCE
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
