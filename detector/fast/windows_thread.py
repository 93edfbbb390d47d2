"""Behaviour windows on the second core: a worker thread counts and scores beside the batch path.

The counting kernels release the GIL, so the worker's counting runs beside the next batch's
decoding. Work is queued in capture order (at most QUEUE batches). The alerts of the windows a
batch closes are handed out at the end of the batch after it (or at `close`): a fixed lag of one
batch, so that a replay writes the same alerts in the same order on every run. An error in the
worker is raised at the next call.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.fast.windows import I64, U64, Windows
from detector.model import Alert


class BackgroundWindows(Windows):
    """Windows whose counting, closing and scoring happen on a worker thread."""

    QUEUE = 8

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(self.QUEUE)
        self._error: BaseException | None = None
        self._done = threading.Condition()
        self._ends = self._ended = 0  # batch ends queued, and done by the worker
        self._closed = False
        self._ready: list[tuple[int, list[Alert]]] = []  # (batch end, the alerts it closed)
        self._thread = threading.Thread(target=self._work, name="windows", daemon=True)
        self._thread.start()

    def add_columns(
        self, keys: U64, dst: U64, take: npt.NDArray[np.bool_], ts_ns: I64, nbytes: I64, first: int
    ) -> None:
        # the reader reuses its arrays for the next batch: the worker gets its own copies
        work = (keys, dst, take.copy(), ts_ns.copy(), nbytes.copy(), first)
        self._put("columns", work)

    def end_batch(self) -> None:
        pending, self._pending = self._pending, []
        self._ends += 1
        self._put("end", (pending, self.source))

    def idle(self, now_ns: int) -> None:
        self._ends += 1
        self._put("idle", (now_ns, self.source))

    def take_alerts(self) -> list[Alert]:
        """The alerts of the windows closed up to the batch end before the last one (after
        `close`: all of them)."""
        return self._take(self._ends if self._closed else self._ends - 1)

    def close(self) -> None:
        """Count what is pending, close every window, and wait for the worker to be done."""
        pending, self._pending = self._pending, []
        self._ends += 1
        self._put("close", (pending, self.source))
        self._closed = True
        self._queue.join()
        self._raise()

    def _take(self, upto: int) -> list[Alert]:
        with self._done:
            self._done.wait_for(lambda: self._ended >= upto or self._error is not None)
        self._raise()
        with self._done:
            out = [a for end, alerts in self._ready if end <= upto for a in alerts]
            self._ready = [(end, alerts) for end, alerts in self._ready if end > upto]
        return out

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
                    Windows.add_columns(self, *work)
                else:
                    self._finish(kind, work)
            except Exception as exc:  # handed to the caller's thread, raised at its next call
                self._error = self._error or exc
                with self._done:
                    self._done.notify_all()
            finally:
                self._queue.task_done()

    def _finish(self, kind: str, work: tuple[Any, str]) -> None:
        payload, self.source = work
        if kind == "idle":
            Windows.idle(self, payload)
        else:
            self._end(payload)
            if kind == "close":
                self._close(self.newest + 1)
        alerts, self.alerts = self.alerts, []
        with self._done:
            self._ended += 1
            self._ready.append((self._ended, alerts))
            self._done.notify_all()
