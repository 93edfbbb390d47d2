"""`spoofwatch bindings list|export|import`: the operator's view of the persisted binding table."""

from __future__ import annotations

import argparse
import csv
import ipaddress
import sys
from typing import TYPE_CHECKING

from detector.errors import ConfigError

if TYPE_CHECKING:
    from detector.bindings.fleet import FleetStore
    from detector.bindings.store import BindingStore
    from detector.values import Binding, PortKey

COLUMNS = ["segment", "mac", "address", "method", "learned_at", "source", "packet"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = sub.add_parser("bindings", help="list, export or import the persisted binding table")
    b.add_argument("action", choices=["list", "export", "import"])
    b.add_argument("file", nargs="?", metavar="FILE", help="for import: a CSV from export")
    b.add_argument(
        "--state",
        metavar="FILE|URL",
        required=True,
        help="the state file (state.path), or the fleet's postgresql://user@host/db (state.url;"
        " the password from PGPASSWORD or ~/.pgpass)",
    )
    b.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "import" and not args.file:
        raise ConfigError("bindings import: name the CSV file to import")
    from detector.values import rfc3339

    store = _open(args.state)
    try:
        if args.action == "import":
            n = _import(store, args.file)
            print(f"imported {n} bindings into {args.state}", file=sys.stderr)
            return 0
        found = _rows(store)
        rows = sorted(found, key=lambda r: (r[0].segment, r[0].mac, r[1].address))
        if args.action == "list":
            for port, b in rows:
                when = rfc3339(b.evidence.ts_ns) if b.evidence else "-"
                print(f"{port.segment:<16} {port.mac}  {b.address:<40} {b.method:<6} {when}")
            print(f"{len(rows)} bindings", file=sys.stderr)
        else:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(COLUMNS)
            for port, b in rows:
                ev = b.evidence
                writer.writerow(
                    [
                        port.segment,
                        port.mac,
                        b.address,
                        b.method,
                        rfc3339(ev.ts_ns) if ev else "",
                        ev.source if ev else "",
                        ev.packet if ev else "",
                    ]
                )
        return 0
    finally:
        store.close()


def _open(where: str) -> BindingStore | FleetStore:
    if where.startswith(("postgresql:", "postgres:")):
        from detector.bindings.fleet import FleetStore
        from detector.config.state import CHECKS, StateConfig

        return FleetStore(StateConfig(url=CHECKS["url"]("--state", where)), required=True)
    from detector.bindings.store import BindingStore

    return BindingStore(where)


def _rows(store: BindingStore | FleetStore) -> list[tuple[PortKey, Binding]]:
    from detector.bindings.store import BindingStore

    if isinstance(store, BindingStore):
        return list(store.rows())
    return [(r.port, r.binding) for r in store.all_rows()]


def _import(store: BindingStore | FleetStore, path: str) -> int:
    """Read an export (or a manual bindings file) and add its bindings (first writer wins)."""
    from detector.values import Binding, Evidence, Method, PortKey, normalize_mac

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ConfigError(f"bindings file {path}: {exc.strerror}") from exc
    done: list[tuple[PortKey, Binding]] = []
    for line, row in enumerate(rows, start=2):
        try:
            port = PortKey(row["segment"].strip(), normalize_mac(row["mac"]))
            address = str(ipaddress.ip_network(row["address"].strip()))
            if address.endswith(("/32", "/128")):
                address = address.rsplit("/", 1)[0]
            method = Method(row.get("method") or "manual")
        except (KeyError, ValueError, AttributeError) as exc:
            raise ConfigError(f"bindings file {path} line {line}: {exc}") from exc
        source = row.get("source") or None
        packet = int(row["packet"]) if row.get("packet") else 0
        done.append(
            (port, Binding(address, method, Evidence(source, packet, 0) if source else None))
        )
    from detector.bindings.store import BindingStore

    if isinstance(store, BindingStore):
        for port, binding in done:
            store.save(port, binding)
        return len(done)
    from detector.bindings.pgschema import Claim

    settled = store.put([Claim(port, b, None) for port, b in done])
    refused = [s for s in settled if s.outcome not in ("realized", "known")]
    for s in refused:
        c = s.claim
        print(
            f"not imported: {c.port.segment} {c.port.mac} {c.binding.address}: the store holds"
            f" it for {s.owner or 'another port'}",
            file=sys.stderr,
        )
    return len(done) - len(refused)
