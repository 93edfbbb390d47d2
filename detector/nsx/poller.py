"""Pull NSX at start and every `poll_seconds` in a thread; the run loop takes each new snapshot.

A failed pull is logged (the message names the URL and status, never the password) and
counted; the last good snapshot stays in force until a pull succeeds again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from detector.config.nsx import NsxConfig
from detector.errors import ConfigError, NsxError
from detector.nsx.client import NsxClient
from detector.nsx.pull import pull

log = logging.getLogger("spoofwatch")


class Poller:
    """A daemon thread that keeps the newest snapshot for the run loop to take."""

    def __init__(self, cfg: NsxConfig) -> None:
        self.cfg = cfg
        self.client: NsxClient | None = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.latest: dict[str, Any] | None = None
        self.failures = 0
        self.thread = threading.Thread(target=self._loop, name="nsx-poller", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def take(self) -> dict[str, Any] | None:
        """The snapshot pulled since the last call, if any."""
        with self.lock:
            snap, self.latest = self.latest, None
        return snap

    def requests(self) -> dict[str, int]:
        return dict(self.client.requests) if self.client is not None else {}

    def pull_once(self) -> bool:
        try:
            if self.client is None:
                self.client = NsxClient(self.cfg)
            snap = pull(self.client)
        except (NsxError, ConfigError) as exc:
            self.failures += 1
            log.error("NSX pull failed, keeping the last good snapshot: %s", exc)
            return False
        with self.lock:
            self.latest = snap
        return True

    def close(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=self.cfg.timeout_seconds + 1)
        if self.client is not None:
            self.client.close()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.pull_once()
            self.stopping.wait(self.cfg.poll_seconds)
