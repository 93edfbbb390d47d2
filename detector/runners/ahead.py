"""Read-ahead: captures read and decoded into columns on threads while the engine judges.

Reading (the copy out of the page cache) runs on one thread, the record walk and the column
kernel on another (detector.sources.capture.CaptureFile.stages); they release the GIL, and on a
steady replay they are most of the work. The judging is Python and stays on the calling
thread, in capture order, so the alerts are the same as without read-ahead. Each queue
between two stages holds `depth` items. Classic-pcap chunks come from a pool and go back to
it only when nothing can still read them: the caller's batch when it asks for the next, a
chunk the walk left no batch in (or skipped after a failure) at once. The other readers
make a fresh buffer a batch.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from detector.errors import CaptureError
from detector.fast.packets.columns import Columns
from detector.sources.capture import CHUNK_BYTES, CaptureFile
from detector.sources.pcap import Chunk
from detector.values import RecordBatch

DEPTH = 3  # items queued between two stages
WAKE = 0.05  # seconds a blocked thread waits before it looks whether the caller went away
Decode = Callable[[RecordBatch], Columns | None]


class _Stopped(Exception):
    """The caller went away: stop."""


class Pool:
    """Chunks (detector.sources.pcap.Chunks) that are read into again only once given back."""

    def __init__(self, size: int, count: int, stop: threading.Event) -> None:
        self.size, self.head = size, size // 8
        rows = (self.head + size) // 16 + 1
        cols = [[np.empty(rows, dtype=np.int64) for _ in range(4)] for _ in range(count)]
        self.sets: list[Chunk] = [(bytearray(self.head + size), *c) for c in cols]  # type: ignore[misc]
        self.index = {id(s[0]): i for i, s in enumerate(self.sets)}
        self.free = list(range(count))
        self.ready = threading.Condition()
        self.stop = stop

    def next(self) -> Chunk:
        with self.ready:
            while not self.free:
                if self.stop.is_set():
                    raise _Stopped
                self.ready.wait(WAKE)
            return self.sets[self.free.pop(0)]

    def give_back(self, buf: object) -> None:
        """Give a chunk back by its buffer (any other buffer is not the pool's)."""
        i = self.index.get(id(buf))
        if i is not None and self.sets[i][0] is buf:
            with self.ready:
                if i not in self.free:
                    self.free.append(i)
                    self.ready.notify()


class Ahead:
    """Iterate ("capture", info) | ("batch", batch, columns or None) | ("failed", message),
    in capture order: one thread reads, one walks and decodes, the caller judges. A failure of
    a thread other than a capture's is raised here."""

    def __init__(
        self,
        paths: Sequence[str],
        decode: Decode,
        depth: int = DEPTH,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.paths = list(paths)
        self.decode = decode
        self.read: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=depth)
        self.decoded: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        # enough that no stage waits on another's chunk: judged, queued twice, decoded, read
        self.pool = Pool(chunk_bytes, 2 * depth + 3, self.stop)
        self.threads = [
            threading.Thread(target=self._read, name="read-ahead", daemon=True),
            threading.Thread(target=self._decode, name="decode-ahead", daemon=True),
        ]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for thread in self.threads:
            thread.start()
        try:
            while (item := self.decoded.get())[0] != "end":
                if item[0] == "crash":
                    raise item[1]
                yield item
                if item[0] == "batch":
                    self.pool.give_back(item[1].buf)  # the caller is done with it
        finally:
            self.stop.set()  # seen by the threads within WAKE
            for thread in self.threads:
                thread.join()

    def _put(self, into: queue.Queue[tuple[Any, ...]], item: tuple[Any, ...]) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(queue.Full):
                into.put(item, timeout=WAKE)
                return
        raise _Stopped

    def _get(self) -> tuple[Any, ...]:
        while not self.stop.is_set():
            with contextlib.suppress(queue.Empty):
                return self.read.get(timeout=WAKE)
        raise _Stopped

    def _read(self) -> None:
        """The reading stage of every capture, in turn (sources.capture.CaptureFile.stages)."""
        try:
            for path in self.paths:
                capture = CaptureFile(path, self.pool.size, self.pool)
                self._put(self.read, ("capture", capture.info))
                try:
                    items = capture.stages()
                    self._put(self.read, ("walk", next(items)))
                    for item in items:
                        self._put(self.read, ("raw", item))
                except CaptureError as exc:
                    self._put(self.read, ("failed", str(exc)))
                self._put(self.read, ("read",))
            self._put(self.read, ("end",))
        except _Stopped:
            pass
        except BaseException as exc:  # the caller raises it
            with contextlib.suppress(_Stopped):
                self._put(self.read, ("crash", exc))

    def _decode(self) -> None:
        """The walking stage and the column kernel: batches for the caller."""
        try:
            while True:
                item = self._get()
                if item[0] == "walk":
                    self._walk(item[1])
                    continue
                if item[0] == "read":  # a capture's reading ended
                    continue
                self._put(self.decoded, item)  # capture, failed (to open), end, crash
                if item[0] in ("end", "crash"):
                    return
        except _Stopped:
            pass
        except BaseException as exc:  # the caller raises it
            with contextlib.suppress(_Stopped):
                self._put(self.decoded, ("crash", exc))

    def _walk(self, walk: Callable[[Iterator[Any]], Iterator[RecordBatch]]) -> None:
        """One capture's walk over its raw items; a failure of the reading stops it where it
        would have stopped one thread reading and walking in turn."""
        ended = False
        on: list[object] = [None, None]  # the chunk the walk is on, the last batch's buffer

        def raws() -> Iterator[Any]:
            nonlocal ended
            while (item := self._get())[0] == "raw":
                self._done_with(on)
                on[0] = item[1][0][0] if isinstance(item[1], tuple) else None
                yield item[1]
            self._done_with(on)
            ended = True
            if item[0] == "failed":
                raise CaptureError(item[1])
            if item[0] == "crash":
                raise item[1]

        try:
            for batch in walk(raws()):
                on[1] = batch.buf
                self._put(self.decoded, ("batch", batch, self.decode(batch)))
        except CaptureError as exc:
            self._put(self.decoded, ("failed", str(exc)))
            self._done_with(on)
            with contextlib.suppress(CaptureError):  # what the reading says after is moot
                for _ in raws() if not ended else ():
                    pass

    def _done_with(self, on: list[object]) -> None:
        """The walk has left a chunk: back to the pool, unless the caller has its batch."""
        if on[0] is not None and on[0] is not on[1]:
            self.pool.give_back(on[0])
        on[0] = None
