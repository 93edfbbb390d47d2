"""Read-ahead: captures read and decoded into columns on threads while the engine judges.

Reading (the copy out of the page cache, the record walk) and the column kernel release the
GIL, and on a steady replay they are most of the work; the judging is Python and stays on the
calling thread, in capture order, so the alerts are the same as without read-ahead. Each
queue between two stages holds `depth` batches; classic-pcap chunks come from a pool of
2 * depth + 3 buffers (one judged, two queues full, one being decoded, one being read), the
other readers make a fresh buffer a batch.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from detector.errors import CaptureError
from detector.fast.columns import Columns
from detector.model import RecordBatch
from detector.sources import CHUNK_BYTES, CaptureFile
from detector.sources.pcap import Buffers

DEPTH = 3  # batches queued between two stages
Decode = Callable[[RecordBatch], Columns | None]


class Ahead:
    """Iterate ("capture", info) | ("batch", batch, columns or None) | ("failed", message),
    in capture order: one thread reads, one decodes, the caller judges. A failure of a thread
    other than a capture's is raised here."""

    def __init__(
        self,
        paths: Sequence[str],
        decode: Decode,
        depth: int = DEPTH,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.paths = list(paths)
        self.chunk_bytes = chunk_bytes
        self.decode = decode
        self.read: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=depth)
        self.decoded: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=depth)
        self.chunks = 2 * depth + 3  # judged, queued twice, being decoded, being read
        self.stop = threading.Event()
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
        finally:
            self.stop.set()
            while any(t.is_alive() for t in self.threads):  # unblock a put: the stop is seen
                for q in (self.read, self.decoded):
                    with contextlib.suppress(queue.Empty):
                        q.get(timeout=0.02)
            for thread in self.threads:
                thread.join()

    def _put(self, into: queue.Queue[tuple[Any, ...]], item: tuple[Any, ...]) -> None:
        if self.stop.is_set():
            raise _Stopped
        into.put(item)

    def _read(self) -> None:
        chunks = Buffers(self.chunk_bytes, self.chunks)  # one pool for every capture
        try:
            for path in self.paths:
                capture = CaptureFile(path, self.chunk_bytes, chunks)
                self._put(self.read, ("capture", capture.info))
                try:
                    for batch in capture.batches():
                        self._put(self.read, ("batch", batch))
                except CaptureError as exc:
                    self._put(self.read, ("failed", str(exc)))
            self._put(self.read, ("end",))
        except _Stopped:
            pass
        except BaseException as exc:  # the caller raises it
            self.read.put(("crash", exc))

    def _decode(self) -> None:
        try:
            while True:
                item = self.read.get()
                if item[0] == "batch":
                    item = ("batch", item[1], self.decode(item[1]))
                self._put(self.decoded, item)
                if item[0] in ("end", "crash"):
                    return
        except _Stopped:
            pass
        except BaseException as exc:  # the caller raises it
            self.decoded.put(("crash", exc))


class _Stopped(Exception):
    """The caller went away: stop."""
