"""The fleet's shared binding store in PostgreSQL: claims settled first-writer-wins, heard by all.

Two threads, each with its own connection. The claimer sends this collector's claims (queued
by the detection loop, bounded) through `spoofwatch_claims()`, a batch in one round trip and
one transaction, and hands back how each was settled; while the database is unreachable
the claims wait in the queue and are sent when it returns. The listener LISTENs for the
claims of every collector, re-reads all of them after each (re)connection, and re-reads the
recent ones every `sync_seconds` in case a notification was lost. The detection loop applies
what both hand back (`detector.runners.fleetsync`); nothing here touches the binding table.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from detector.bindings import pgschema
from detector.bindings.pgschema import Claim, ClaimOutcome, Row, rows_where, settle
from detector.config.state import StateConfig, redact
from detector.errors import ConfigError, StateError

log = logging.getLogger("spoofwatch.state")
BATCH = 512  # claims a round trip
BACKOFF = (0.2, 5.0)  # reconnect delay: first, most


@dataclass(frozen=True, slots=True)
class Sync:
    """Rows re-read from the store; `complete`: every row it holds (after a (re)connection)."""

    rows: tuple[Row, ...]
    complete: bool


class FleetStore:
    """One collector's view of the shared store: a claim queue out, rows and verdicts in."""

    def __init__(self, cfg: StateConfig, required: bool = False) -> None:
        self.cfg = cfg
        self.where = redact(cfg.url)
        self.password = _password(cfg.password_file) if cfg.password_file else None
        self.queue: deque[Claim] = deque()
        self.wake = threading.Condition()
        self.heard: deque[Row] = deque()  # notifications, in arrival order
        self.settled: deque[ClaimOutcome] = deque()
        self.syncs: deque[Sync] = deque()
        self.stats: Counter[str] = Counter()  # claims:<outcome>, dropped, outages, heard, syncs
        self.up = False
        self.closing = threading.Event()
        self.threads: list[threading.Thread] = []
        self.initial: Sync | None = None
        try:
            with self._connect() as conn:
                pgschema.migrate(conn)
                self.initial = Sync(tuple(rows_where(conn, "")), True)
            self._set_up(True)
        except psycopg.Error as exc:
            if required or (getattr(exc, "sqlstate", None) or "")[:2] in ("28", "3D", "42"):
                raise StateError(f"shared binding store {self.where}: {_reason(exc)}") from exc
            log.warning(
                "shared binding store %s unreachable at start (%s); detecting on this"
                " collector's own table until it returns",
                self.where,
                _reason(exc),
            )

    def start(self) -> None:
        for target, name in ((self._claimer, "claims"), (self._listener, "listen")):
            t = threading.Thread(target=target, name=f"spoofwatch-state-{name}", daemon=True)
            t.start()
            self.threads.append(t)

    def claim(self, claim: Claim) -> None:
        """Queue a claim (the detection loop; never blocks). A full queue drops it, counted:
        the binding stays realized here and is claimed again at the next complete sync."""
        with self.wake:
            if len(self.queue) >= self.cfg.queue_max:
                self.stats["dropped"] += 1
                return
            self.queue.append(claim)
            self.wake.notify()

    def queued(self) -> int:
        return len(self.queue)

    def close(self, drain_seconds: float = 5.0) -> None:
        """Send what is queued (for up to `drain_seconds` while the store answers), then stop."""
        deadline = time.monotonic() + drain_seconds
        while self.queue and self.up and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.queue:
            log.warning("%d claims not sent to %s at exit", len(self.queue), self.where)
        self.closing.set()
        with self.wake:
            self.wake.notify_all()
        for t in self.threads:
            t.join(timeout=5)

    # -- the two threads -------------------------------------------------------------------

    def _claimer(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        delay = BACKOFF[0]
        while not self.closing.is_set():
            with self.wake:
                if not self.queue:
                    self.wake.wait(0.5)
                batch = [self.queue[i] for i in range(min(BATCH, len(self.queue)))]
            if not batch:
                continue
            done: list[ClaimOutcome] | None = None
            try:
                if conn is None or conn.closed:
                    conn = self._connect()
                done = settle(conn, batch, self.cfg.collector)
            except psycopg.Error as exc:
                if conn is not None and not (conn.closed or conn.broken):
                    done = self._one_by_one(conn, batch, exc)  # the server answered
                if done is None:
                    self._set_up(False, exc)
                    _drop(conn)
                    conn = None
            if done is None:
                self.closing.wait(delay)
                delay = min(delay * 2, BACKOFF[1])
                continue
            delay = BACKOFF[0]
            self._set_up(True)
            with self.wake:
                for _ in batch:
                    self.queue.popleft()
            for s in done:
                self.stats[f"claims:{s.outcome}"] += 1
            self.settled.extend(done)
        _drop(conn)

    def _one_by_one(
        self, conn: psycopg.Connection[Any], batch: list[Claim], exc: Exception
    ) -> list[ClaimOutcome] | None:
        """A batch the server refused: settle its claims alone; one it refuses again is
        dropped, counted and logged (a poisoned claim must not stop every later one)."""
        log.error("the shared binding store refused a batch of claims: %s", _reason(exc))
        done = []
        for claim in batch:
            try:
                done.extend(settle(conn, [claim], self.cfg.collector))
            except psycopg.Error as again:
                if conn.closed or conn.broken:
                    return None
                self.stats["errors"] += 1
                log.error(
                    "claim of %s on %s dropped: %s",
                    claim.binding.address,
                    claim.port,
                    _reason(again),
                )
        return done

    def _listener(self) -> None:
        delay = BACKOFF[0]
        while not self.closing.is_set():
            conn: psycopg.Connection[Any] | None = None
            try:
                conn = self._connect()
                conn.execute(f"LISTEN {pgschema.CHANNEL}")
                self._synced(Sync(tuple(rows_where(conn, "")), True))
                self._set_up(True)
                delay = BACKOFF[0]
                last = time.monotonic()
                while not self.closing.is_set():
                    for note in conn.notifies(timeout=0.5):
                        row = pgschema.row(note.payload)
                        self.stats["heard" if row else "unreadable"] += 1
                        if row is not None:
                            self.heard.append(row)
                    if time.monotonic() - last >= self.cfg.sync_seconds:
                        window = f"{2 * self.cfg.sync_seconds} seconds"
                        recent = rows_where(conn, "WHERE claimed_at > now() - %s::interval", window)
                        self._synced(Sync(tuple(recent), False))
                        last = time.monotonic()
            except psycopg.Error as exc:
                self._set_up(False, exc)
                self.closing.wait(delay)
                delay = min(delay * 2, BACKOFF[1])
            finally:
                _drop(conn)

    def _synced(self, sync: Sync) -> None:
        self.stats["syncs"] += 1
        self.syncs.append(sync)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.cfg.url,
            password=self.password,
            autocommit=True,
            connect_timeout=5,
            application_name=f"spoofwatch {self.cfg.collector}",
        )

    def _set_up(self, up: bool, exc: Exception | None = None) -> None:
        with self.wake:
            was, self.up = self.up, up
        if was and not up:
            self.stats["outages"] += 1
            log.warning(
                "shared binding store %s unreachable (%s); claims wait in a queue of at most %d",
                self.where,
                _reason(exc),
                self.cfg.queue_max,
            )
        elif up and not was and self.stats["outages"]:
            log.info("shared binding store %s reachable again", self.where)

    # -- one-shot access (the bindings command) --------------------------------------------

    def all_rows(self) -> list[Row]:
        try:
            with self._connect() as conn:
                return rows_where(conn, "")
        except psycopg.Error as exc:
            raise StateError(f"shared binding store {self.where}: {_reason(exc)}") from exc

    def put(self, claims: list[Claim]) -> list[ClaimOutcome]:
        """Settle claims now, on a connection of their own (`bindings import`)."""
        try:
            with self._connect() as conn:
                return settle(conn, claims, self.cfg.collector)
        except psycopg.Error as exc:
            raise StateError(f"shared binding store {self.where}: {_reason(exc)}") from exc


def _drop(conn: psycopg.Connection[Any] | None) -> None:
    if conn is not None:
        with contextlib.suppress(psycopg.Error):
            conn.close()


def _password(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"state.password_file {path}: {exc.strerror}") from exc


def _reason(exc: Exception | None) -> str:
    """The first line of a driver error (no connection string: it may hold secrets)."""
    text = str(exc or "no answer").strip().splitlines()
    return text[0] if text else type(exc).__name__
