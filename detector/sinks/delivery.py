"""What every network sink shares: counted outcomes, back-off, errors logged once per burst, and a
worker thread so that delivery never blocks detection."""

from __future__ import annotations

import logging
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("spoofwatch")

# Outcomes of one alert's delivery attempt, the `outcome` label of spoofwatch_sink_alerts_total.
DELIVERED = "delivered"  # the receiver accepted it
FAILED = "failed"  # the attempt failed; the alert stays queued and is tried again
DROPPED = "dropped"  # given up: the queue was full, the receiver refused it, or the process ended


@dataclass(slots=True)
class SinkStats:
    """One sink's counters, read by /metrics and the replay summary."""

    name: str
    outcomes: Counter[str] = field(default_factory=Counter)
    queued: int = 0  # alerts (or messages) waiting now

    def line(self) -> str:
        parts = [
            f"{n:,} {what}" for what in (DELIVERED, FAILED, DROPPED) if (n := self.outcomes[what])
        ]
        return f"{self.name}: {', '.join(parts) or 'nothing to deliver'}"


class Burst:
    """Log the first failure of a burst; count the rest quietly until a success ends it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failing = False
        self.quiet = 0

    def failure(self, message: str) -> None:
        if self.failing:
            self.quiet += 1
            return
        self.failing = True
        log.error(
            "%s: %s; retrying with back-off, further failures are counted", self.name, message
        )

    def success(self) -> None:
        if self.failing:
            log.warning("%s: delivering again (%d more failures meanwhile)", self.name, self.quiet)
        self.failing, self.quiet = False, 0


class Backoff:
    """Delays of 0.5 s doubling up to `cap` seconds, back to the start after a success."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first, self.cap = first, cap
        self.delay = 0.0

    def next(self) -> float:
        self.delay = min(self.cap, self.delay * 2 if self.delay else self.first)
        return self.delay

    def reset(self) -> None:
        self.delay = 0.0


def tls_context(ca_file: str, verify: bool, cert: str = "", key: str = "") -> ssl.SSLContext:
    """A TLS client context: the CA file (else the system's), an optional client certificate,
    and verification unless turned off."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if cert:
        context.load_cert_chain(cert, key or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class DeliveryThread:
    """A daemon thread that runs `work()` when woken, or every `tick` seconds, until stopped."""

    def __init__(self, name: str, work: Callable[[], None], tick: float = 1.0) -> None:
        self.work = work
        self.tick = tick
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, name=f"sink-{name}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopping:
            self.wake.wait(self.tick)
            self.wake.clear()
            if not self.stopping:
                try:
                    self.work()
                except Exception:  # a sink bug must not end delivery silently
                    log.exception("sink worker %s failed; it keeps running", self.thread.name)

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join()
