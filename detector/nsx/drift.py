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
    known: dict[tuple[str, str], NsxPort] = {}
    for p in nsx_ports:
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
                detail = f"also on {b.conflicting_port or 'another port'}"
                out.append(Drift("duplicate", segment, mac, b.address, port.path, 0, detail))
        for b in port.realized:
            if b.mac == mac and "/" not in b.address and b.address not in mine:
                detail = f"realized by {b.source}; never sent from"
                out.append(Drift("unseen-realized", segment, mac, b.address, port.path, 0, detail))
    return sorted(out, key=lambda d: (KINDS.index(d.kind), d.segment, d.mac, d.address))


def _key(s: Seen) -> tuple[str, str, str]:
    return s.segment, s.mac, s.address
