"""The timeline on the second core: a worker thread aggregates while the batch path goes on.

Work is queued in capture order (detector.fast.helper), so the rows are the same as on one
thread; a slow disk slows the replay instead of growing a queue. An error in the worker (a full
disk under the writer) is raised at the next call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from detector.fast.helper import HelperThread
from detector.fast.timeline.path import U64, Timeline


class BackgroundTimeline(Timeline):
    """A Timeline whose aggregation and writes happen on a worker thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._worker = HelperThread("timeline")

    def add_columns(
        self,
        cols: U64,
        dst: U64,
        take: npt.NDArray[np.bool_],
        ts_ns: npt.NDArray[np.int64],
        nbytes: npt.NDArray[np.int64],
    ) -> None:
        # the reader reuses its arrays for the next batch: the worker gets its own copies
        work = (cols, dst, take.copy(), ts_ns.copy(), nbytes.copy())
        self._worker.put(Timeline.add_columns, self, *work)

    def add(self, keys: U64, dst: U64, nbytes: npt.NDArray[np.int64], unbound: Any) -> None:
        self._worker.put(self._add_rows, keys, dst, nbytes, unbound)

    def end_batch(self) -> None:
        pending, self._pending = self._pending, []
        self._worker.put(self._end, pending)

    def close(self) -> None:
        """Write out every open row and wait until the worker has done so."""
        pending, self._pending = self._pending, []
        self._worker.put(self._close, pending)
        self._worker.join()

    def _close(self, pending: list[tuple[int, ...]]) -> None:
        self._end(pending)
        self._write(self.newest + 1)
