"""Drift between the wire and NSX: what VMs send against what NSX has realized for them.

Kinds, worst first:
- `unrealized-source`: a port NSX knows sent from an address NSX has not realized (the bypass);
- `refused`: NSX discovered an address and did not realize it (it saw the change, did nothing);
- `duplicate`: NSX reports the address on another port of the segment too;
- `unknown-port`: a (segment, MAC) on the wire that NSX does not know;
- `unseen-realized`: a binding NSX realized that the wire never showed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from detector.nsx.realized import NsxPort

KINDS = ("unrealized-source", "refused", "duplicate", "unknown-port", "unseen-realized")


@dataclass(frozen=True, slots=True)
class Seen:
    """An address a port sent from, as many times, first where."""

    segment: str
    mac: str
    address: str
    packets: int
    first: str  # evidence: file:packet, or how the state file learned it


@dataclass(frozen=True, slots=True)
class Drift:
    """One difference."""

    kind: str
    segment: str
    mac: str
    address: str
    nsx_port: str
    packets: int
    detail: str


def _covered(address: str, bound: Iterable[str]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(b) for b in bound)


def drift(nsx_ports: Iterable[NsxPort], seen: Iterable[Seen]) -> list[Drift]:
    """Every difference, sorted by kind, segment, MAC and address."""
    every = list(nsx_ports)
    by_id = {p.path.rsplit("/", 1)[-1]: p.path for p in every}  # conflicting_port is a port ID
    known: dict[tuple[str, str], NsxPort] = {}
    for p in every:
        for mac in p.macs:
            if p.segment is not None:
                known[(p.segment, mac)] = p
    out: list[Drift] = []
    sent: dict[tuple[str, str], set[str]] = {}
    for s in seen:
        sent.setdefault((s.segment, s.mac), set()).add(s.address)
        port = known.get((s.segment, s.mac))
        if port is None:
            out.append(Drift("unknown-port", s.segment, s.mac, s.address, "", s.packets, s.first))
            continue
        bound = [b.address for b in (*port.realized, *port.manual) if b.mac == s.mac]
        if not _covered(s.address, bound):
            why = f"NSX realized {', '.join(bound) or 'nothing'}; first sent at {s.first}"
            out.append(Drift("unrealized-source", *_key(s), port.path, s.packets, why))
    for (segment, mac), port in known.items():
        mine = sent.get((segment, mac), set())
        held = {b.address for b in (*port.realized, *port.manual) if b.mac == mac}
        for b in port.discovered:
            if b.mac == mac and b.address not in held:
                wire = "sent on the wire" if b.address in mine else "not seen on the wire"
                detail = f"discovered by {b.source}, not realized; {wire}"
                out.append(Drift("refused", segment, mac, b.address, port.path, 0, detail))
        for b in port.duplicates:
            if b.mac == mac:
                other = by_id.get(b.conflicting_port or "", b.conflicting_port or "another port")
                detail = f"also on {other}"
                out.append(Drift("duplicate", segment, mac, b.address, port.path, 0, detail))
        for b in port.realized:
            if b.mac == mac and "/" not in b.address and b.address not in mine:
                detail = f"realized by {b.source}; never sent from"
                out.append(Drift("unseen-realized", segment, mac, b.address, port.path, 0, detail))
    out += _unchecked_duplicates(known)
    return sorted(out, key=lambda d: (KINDS.index(d.kind), d.segment, d.mac, d.address))


def _unchecked_duplicates(known: dict[tuple[str, str], NsxPort]) -> list[Drift]:
    """Addresses NSX realized on two ports of a segment where its duplicate IP detection is off
    (the profile's default): NSX reports no duplicate there, so an empty list proves nothing."""
    holders: dict[tuple[str, str], list[tuple[str, NsxPort]]] = {}
    for (segment, mac), port in known.items():
        for b in port.realized:
            if b.mac == mac:
                holders.setdefault((segment, b.address), []).append((mac, port))
    out = []
    for (segment, address), held in holders.items():
        paths = sorted({p.path for _, p in held})
        if len(paths) < 2:
            continue
        for mac, port in held:
            if not port.profiles.discovery.duplicate_detection:
                others = ", ".join(p for p in paths if p != port.path)
                detail = (
                    f"also realized on {others}; duplicate IP detection is off in"
                    f" {port.profiles.discovery_profile}, so NSX reports no duplicate"
                )
                out.append(Drift("duplicate", segment, mac, address, port.path, 0, detail))
    return out


def _key(s: Seen) -> tuple[str, str, str]:
    return s.segment, s.mac, s.address
