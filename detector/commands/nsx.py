"""`spoofwatch nsx snapshot|drift|audit`: NSX realized bindings, drift, SpoofGuard posture."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from detector.errors import ConfigError

if TYPE_CHECKING:
    from detector.config.settings import Config
    from detector.nsx.drift import Seen

EXIT_FINDINGS = 3


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    n = sub.add_parser(
        "nsx",
        help="NSX-T realized bindings: snapshot, drift against the wire, SpoofGuard audit",
        description="Read NSX-T's Policy API (or a snapshot of it). The least privilege that"
        " reads all of it is the read-only Auditor role.",
    )
    verbs = n.add_subparsers(dest="verb", metavar="VERB", required=True)
    s = verbs.add_parser("snapshot", help="pull everything once into a JSON snapshot file")
    s.add_argument("--config", metavar="FILE", required=True, help="TOML with an [nsx] section")
    s.add_argument("--out", metavar="FILE", required=True, help="the snapshot file to write")
    d = verbs.add_parser(
        "drift",
        help="what the wire shows against what NSX realized",
        description="Compare the addresses ports send from (captures, or the state file of"
        " spoofwatch run) with NSX's realized, discovered and duplicate bindings.",
    )
    d.add_argument("captures", nargs="*", metavar="CAPTURE")
    d.add_argument("--state", metavar="DB", help="the wire's bindings from a state file instead")
    a = verbs.add_parser(
        "audit",
        help="which DFW rules an IP change bypasses (exit 3 when any)",
        description="Effective SpoofGuard and IP discovery profile of every port, and the"
        " enabled DFW rules whose groups resolve to ports without SpoofGuard. Exit 3 when"
        " any rule is bypassable, 0 when none, 1 when NSX could not be read.",
    )
    for p in (d, a):
        p.add_argument("--config", metavar="FILE", help="TOML with an [nsx] section (pulls)")
        p.add_argument("--nsx-snapshot", metavar="FILE", help="a snapshot file instead")
    d.add_argument("--format", choices=["table", "json", "csv"], default="table")
    a.add_argument("--format", choices=["table", "json"], default="table")
    n.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from detector.config.settings import load_or_default

    cfg = load_or_default(args.config)
    if args.verb == "snapshot":
        return _snapshot(args, cfg)
    snap = _state(args, cfg)
    return _drift(args, cfg, snap) if args.verb == "drift" else _audit(args, snap)


def _state(args: argparse.Namespace, cfg: Config) -> dict[str, Any]:
    from detector.commands.summary import nsx_state

    if bool(args.nsx_snapshot) == bool(args.config and cfg.nsx):
        raise ConfigError("nsx: give --nsx-snapshot FILE, or --config with an [nsx] section")
    snap = nsx_state(args.nsx_snapshot, cfg.nsx, quiet=args.format != "table")
    assert snap is not None
    return snap


def _snapshot(args: argparse.Namespace, cfg: Config) -> int:
    from detector.commands.summary import nsx_state
    from detector.nsx import snapshot

    if cfg.nsx is None:
        raise ConfigError(f"{args.config}: no [nsx] section (url, username, password_file)")
    snap = nsx_state(None, cfg.nsx, quiet=False)
    assert snap is not None
    snapshot.save(snap, args.out)
    cost = snap["cost"]
    print(
        f"spoofwatch: nsx: wrote {args.out}: {snapshot.census(snap)};"
        f" {len(snap['policies'])} policies, {len(snap['groups'])} groups;"
        f" {sum(cost['requests'].values())} requests in {cost['seconds']:.1f} s",
        file=sys.stderr,
    )
    return 0


def _seen_on_wire(args: argparse.Namespace, cfg: Config) -> Iterator[Seen]:
    from collections import Counter

    from detector.bindings.learn import EXEMPT_SOURCES
    from detector.bindings.store import BindingStore
    from detector.decoders.chain import Decoder
    from detector.nsx.drift import Seen
    from detector.sources.capture import each_batch
    from detector.values import DecodeStats, is_unicast, segment_of

    if args.state:
        store = BindingStore(args.state)
        try:
            for port, b in store.rows():
                where = f"{b.evidence.source}:{b.evidence.packet}" if b.evidence else b.method
                yield Seen(port.segment, port.mac, b.address, 0, str(where))
        finally:
            store.close()
        return
    if not args.captures:
        raise ConfigError("nsx drift: name captures, or --state with a state file")
    decoder, failures = Decoder(cfg.decode, DecodeStats()), list[str]()
    counts: Counter[tuple[str, str, str]] = Counter()
    first: dict[tuple[str, str, str], str] = {}
    untunnelled = cfg.engine.inspect_untunnelled
    for batch in each_batch(args.captures, failures):
        for f in decoder.frames(batch):
            if f.oam or f.src_ip is None or f.src_ip in EXEMPT_SOURCES:
                continue
            if (f.encap is None and not untunnelled) or not is_unicast(f.src_mac):
                continue
            if f.src_mac is None or cfg.trust.is_gateway(f.src_mac):
                continue
            key = (segment_of(f, cfg.engine.scope_by_session), f.src_mac, f.src_ip)
            counts[key] += 1
            first.setdefault(key, f"{batch.source}:{f.packet}")
    if failures:
        raise ConfigError(failures[0])
    for key, n in counts.items():
        yield Seen(*key, n, first[key])


def _drift(args: argparse.Namespace, cfg: Config, snap: dict[str, Any]) -> int:
    from dataclasses import asdict

    from detector.nsx.drift import drift
    from detector.nsx.realized import ports

    rows = drift(ports(snap), _seen_on_wire(args, cfg))
    if args.format == "json":
        print(
            json.dumps(
                {
                    "manager": snap.get("manager"),
                    "pulled_at": snap.get("pulled_at"),
                    "drift": [asdict(r) for r in rows],
                },
                indent=1,
            )
        )
    elif args.format == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["kind", "segment", "mac", "address", "nsx_port", "packets", "detail"])
        for r in rows:
            out.writerow([r.kind, r.segment, r.mac, r.address, r.nsx_port, r.packets, r.detail])
    else:
        print(f"drift against NSX {snap.get('manager')} as of {snap.get('pulled_at')}")
        print(f"{'kind':<18} {'segment':<14} {'mac':<17}  {'address':<26} {'packets':>8}  detail")
        for r in rows:
            print(
                f"{r.kind:<18} {r.segment:<14} {r.mac:<17}  {r.address:<26} {r.packets:>8}"
                f"  {r.detail}" + (f" [{r.nsx_port}]" if r.nsx_port else "")
            )
        print(f"{len(rows)} differences")
    return 0


def _audit(args: argparse.Namespace, snap: dict[str, Any]) -> int:
    from detector.nsx.audit import audit, to_json

    result = audit(snap)
    if args.format == "json":
        print(json.dumps(to_json(result, snap), indent=1))
    else:
        print(f"SpoofGuard posture of NSX {snap.get('manager')} as of {snap.get('pulled_at')}")
        print(
            f"  {len(result.ports)} ports, {len(result.unprotected)} without SpoofGuard;"
            f" {result.rules_checked} enabled rules checked,"
            f" {len(result.bypassable)} bypassable by an IP change"
        )
        for r in result.bypassable:
            print(f"\n  {r.action:<6} {r.path}\n         policy {r.policy}")
            print(f"         groups {', '.join(r.groups)}")
            print(f"         {len(r.exposed_ports)} exposed ports: {', '.join(r.exposed_ports)}")
        if result.unresolved_groups:
            print(f"\n  groups named by rules but not in the snapshot: {result.unresolved_groups}")
        print("\n  ports without SpoofGuard (effective profile, where it comes from):")
        for p in result.unprotected:
            prof = p.profiles
            print(f"    {p.path}  {prof.spoofguard_profile} ({prof.spoofguard_from})")
    return EXIT_FINDINGS if result.bypassable else 0
