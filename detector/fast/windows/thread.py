"""Behaviour windows on the second core: a worker thread counts and scores beside the batch path.

Work is queued in capture order (detector.fast.helper). The alerts of the windows a batch closes
are handed out at the end of the batch after it (or at `close`): a fixed lag of one batch, so
that a replay writes the same alerts in the same order on every run. An error in the worker is
raised at the next call.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.detectors.anomaly import window_order
from detector.fast.helper import HelperThread
from detector.fast.windows.path import I64, U64, Windows
from detector.values import Alert


class BackgroundWindows(Windows):
    """Windows whose counting, closing and scoring happen on a worker thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._done = threading.Condition()
        self._ends = self._ended = 0  # batch ends queued, and done by the worker
        self._closed = False
        self._closing = ""  # the source of the batch end the worker is at
        self._ready: list[tuple[int, list[Alert]]] = []  # (batch end, the alerts it closed)
        self._worker = HelperThread("windows", on_error=self._wake)

    def add_columns(
        self, keys: U64, dst: U64, take: npt.NDArray[np.bool_], ts_ns: I64, nbytes: I64, first: int
    ) -> None:
        # the reader reuses its arrays for the next batch: the worker gets its own copies
        work = (keys, dst, take.copy(), ts_ns.copy(), nbytes.copy(), first)
        self._worker.put(Windows.add_columns, self, *work)

    def end_batch(self) -> None:
        pending, self._pending = self._pending, []
        self._queue_end("end", pending)

    def idle(self, now_ns: int) -> None:
        self._queue_end("idle", now_ns)

    def close(self) -> None:
        """Count what is pending, close every window, and wait for the worker to be done."""
        pending, self._pending = self._pending, []
        self._queue_end("close", pending)
        self._closed = True
        self._worker.join()

    def take_alerts(self) -> list[Alert]:
        """The alerts of the windows closed up to the batch end before the last one (after
        `close`: all of them)."""
        upto = self._ends if self._closed else self._ends - 1
        with self._done:
            self._done.wait_for(lambda: self._ended >= upto or self._worker.error is not None)
        self._worker.check()
        with self._done:
            out = [a for end, alerts in self._ready if end <= upto for a in alerts]
            out.sort(key=window_order)
            self._ready = [(end, alerts) for end, alerts in self._ready if end > upto]
        return out

    def _queue_end(self, kind: str, payload: Any) -> None:
        self._ends += 1
        self._worker.put(self._finish, kind, payload, self.source)

    def _source(self) -> str:
        return self._closing

    def _finish(self, kind: str, payload: Any, source: str) -> None:
        self._closing = source
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

    def _wake(self) -> None:
        with self._done:
            self._done.notify_all()
