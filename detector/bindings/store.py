"""The binding store: realized bindings persisted in SQLite (WAL) the moment they are learned.

The last good NSX snapshot is kept beside them, so a restart judges against NSX at once.

A restart that forgot its trust-on-first-use state would let an attacker be "first" again, so
every realized binding is committed as it happens (first writer wins: INSERT OR IGNORE, the
same rule PostgreSQL's ON CONFLICT DO NOTHING gives several collectors). `kill -9` loses
nothing that was committed; WAL keeps a crash from corrupting the file. An unreadable file
stops start-up: silently starting empty would be the attacker's gift.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from detector.bindings.table import BindingTable
from detector.errors import StateError
from detector.values import Binding, Evidence, Method, PortKey

SCHEMA = """
CREATE TABLE IF NOT EXISTS bindings (
    segment TEXT NOT NULL,
    mac     TEXT NOT NULL,
    address TEXT NOT NULL,
    method  TEXT NOT NULL,
    source  TEXT,
    packet  INTEGER,
    ts_ns   INTEGER,
    PRIMARY KEY (segment, mac, address)
);
CREATE TABLE IF NOT EXISTS nsx_snapshot (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL
);
"""


class BindingStore:
    """Realized bindings in one SQLite file."""

    def __init__(self, path: str | Path, reset: bool = False) -> None:
        self.path = Path(path)
        if reset:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self.db.execute("SELECT count(*) FROM bindings").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"state file {self.path} is unreadable ({exc}); move it aside, or start with"
                " --reset-state to begin with an empty binding table"
            ) from exc

    def rows(self) -> Iterator[tuple[PortKey, Binding]]:
        """Every stored binding, in the order it was learned."""
        try:
            cursor = self.db.execute(
                "SELECT segment, mac, address, method, source, packet, ts_ns FROM bindings"
                " ORDER BY rowid"
            )
            for segment, mac, address, method, source, packet, ts_ns in cursor:
                ev = Evidence(source, packet, ts_ns) if source is not None else None
                yield PortKey(segment, mac), Binding(address, Method(method), ev, restored=True)
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise StateError(f"state file {self.path} is unreadable ({exc})") from exc

    def load_into(self, table: BindingTable) -> int:
        """Restore every stored binding into the table and keep the table writing here."""
        n = 0
        for port, binding in self.rows():
            try:
                table.restore(port, binding)
            except ValueError as exc:
                raise StateError(f"state file {self.path} holds a bad binding ({exc})") from exc
            n += 1
        table.on_realize = self.save
        return n

    def save(self, port: PortKey, binding: Binding) -> None:
        ev = binding.evidence
        self.db.execute(
            "INSERT OR IGNORE INTO bindings VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                port.segment,
                port.mac,
                binding.address,
                str(binding.method),
                ev.source if ev else None,
                ev.packet if ev else None,
                ev.ts_ns if ev else None,
            ),
        )

    def delete(self, port: PortKey, address: str) -> None:
        """Drop a binding (the fleet's shared store refused it)."""
        self.db.execute(
            "DELETE FROM bindings WHERE segment = ? AND mac = ? AND address = ?",
            (port.segment, port.mac, address),
        )

    def save_snapshot(self, body: str) -> None:
        """Keep the last good NSX snapshot (JSON text), replacing the one before."""
        self.db.execute("INSERT OR REPLACE INTO nsx_snapshot VALUES (1, ?)", (body,))

    def load_snapshot(self) -> str | None:
        """The last NSX snapshot kept, if any."""
        try:
            row = self.db.execute("SELECT body FROM nsx_snapshot WHERE id = 1").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state file {self.path} is unreadable ({exc})") from exc
        return str(row[0]) if row else None

    def close(self) -> None:
        self.db.close()
