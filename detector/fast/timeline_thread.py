"""The timeline on the second core: a worker thread aggregates while the batch path goes on.

The numba kernels release the GIL, so the worker's aggregation runs beside the next batch's
decoding. Work is queued in capture order (at most QUEUE batches: memory stays bounded and a
slow disk slows the replay instead of growing a queue), so the rows are the same as on one
thread. An error in the worker (a full disk under the writer) is raised at the next call.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.fast.timeline import U64, Timeline


class BackgroundTimeline(Timeline):
    """A Timeline whose aggregation and writes happen on a worker thread."""

    QUEUE = 8

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(self.QUEUE)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="timeline", daemon=True)
        self._thread.start()

    def add_columns(
        self,
        cols: U64,
        dst: U64,
        take: npt.NDArray[np.bool_],
        ts_ns: npt.NDArray[np.int64],
        nbytes: npt.NDArray[np.int64],
    ) -> None:
        # the reader reuses its arrays for the next batch: the worker gets its own copies
        self._put("columns", (cols, dst, take.copy(), ts_ns.copy(), nbytes.copy()))

    def add(self, keys: U64, dst: U64, nbytes: npt.NDArray[np.int64], unbound: Any) -> None:
        self._put("rows", (keys, dst, nbytes, unbound))

    def end_batch(self) -> None:
        pending, self._pending = self._pending, []
        self._put("end", pending)

    def close(self) -> None:
        """Write out every open row and wait until the worker has done so."""
        pending, self._pending = self._pending, []
        self._put("close", pending)
        self._queue.join()
        self._raise()

    def _put(self, kind: str, work: Any) -> None:
        self._raise()
        self._queue.put((kind, work))

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        while True:
            kind, work = self._queue.get()
            try:
                if kind == "columns":
                    Timeline.add_columns(self, *work)
                elif kind == "rows":
                    self._add_rows(*work)
                else:
                    self._end(work)
                    if kind == "close":
                        self._write(self.newest + 1)
            except Exception as exc:  # handed to the caller's thread, raised at its next call
                self._error = self._error or exc
            finally:
                self._queue.task_done()
