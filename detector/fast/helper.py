"""One worker thread that runs queued calls in order, for the batch path's second-core helpers.

The numba kernels release the GIL, so work handed to the worker runs beside the next batch's
decoding. At most `depth` calls wait (memory stays bounded, and a slow worker slows the caller
instead of growing a queue). The first error the worker meets is raised in the caller's thread
at its next call.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class HelperThread:
    """Run calls on a daemon thread, in the order they were put."""

    def __init__(
        self, name: str, depth: int = 8, on_error: Callable[[], None] | None = None
    ) -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue(depth)
        self.error: BaseException | None = None
        self._on_error = on_error
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def put(self, call: Callable[..., Any], *args: Any) -> None:
        self.check()
        self._queue.put((call, args))

    def join(self) -> None:
        """Wait until every call put so far is done."""
        self._queue.join()
        self.check()

    def check(self) -> None:
        """Raise the worker's error, once."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _work(self) -> None:
        while True:
            call, args = self._queue.get()
            try:
                call(*args)
            except Exception as exc:  # handed to the caller's thread, raised at its next call
                self.error = self.error or exc
                if self._on_error is not None:
                    self._on_error()
            finally:
                self._queue.task_done()
