"""NSX import: NSX's realized bindings become the table's truth for every port NSX knows.

A binding keeps its NSX source as evidence (`nsx:ARP_SNOOPING`, the binding timestamp): one
learned by ARP snooping counts against the ARP limit exactly as one learned on the wire does,
so a later address on that port is only discovered. The port's effective IP discovery profile
sets what the wire may still add (below its limits, methods it snoops); the next import puts
NSX's view back. Ports NSX stops knowing go back to the table's own limits.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from detector.bindings import packed as pk
from detector.bindings.table import BindingTable, Network, PortLimits
from detector.nsx.profiles import Discovery
from detector.nsx.realized import NsxBinding, NsxPort
from detector.values import NSX_SOURCE, Binding, Evidence, Method, PortKey

METHODS = {
    "ARP_SNOOPING": Method.ARP,
    "ND_SNOOPING": Method.ND,
    "DHCP_SNOOPING": Method.DHCP,
    "DHCPV6_SNOOPING": Method.DHCP,
    "USER_DEFINED": Method.MANUAL,
    "VM_TOOLS": Method.VMTOOLS,
    "VM_TOOLS_V6": Method.VMTOOLS,
}


@dataclass(frozen=True, slots=True)
class Imported:
    """What one import did."""

    ports: int  # NSX ports imported
    bindings: int  # their realized bindings (addresses and networks)
    released: int  # ports NSX no longer knows
    refused: int  # ports the full table could not take
    unnamed: int  # NSX ports whose segment has no VNI or VLAN, or that have no MAC yet


def limits_of(d: Discovery) -> PortLimits:
    return PortLimits(
        arp=d.arp_limit if d.arp_snooping else 0,
        nd=d.nd_limit if d.nd_snooping else 0,
        dhcp=d.dhcp_snooping,
    )


def binding_of(b: NsxBinding) -> Binding:
    method = METHODS.get(b.source, Method.NSX)
    return Binding(b.address, method, Evidence(NSX_SOURCE + b.source, 0, b.timestamp_ms * 10**6))


def keys_of(port: NsxPort) -> list[tuple[PortKey, str | None]]:
    """The table ports an NSX port speaks as: (segment, MAC) for each MAC, and its VIF (flows)."""
    if port.segment is None:
        return []
    keys: list[tuple[PortKey, str | None]] = [(PortKey(port.segment, m), m) for m in port.macs]
    if port.vif:
        keys.append((PortKey(port.segment, f"vif:{port.vif}"), None))
    return keys


def apply(table: BindingTable, ports: Iterable[NsxPort]) -> Imported:
    """Put NSX's view into the table; ports it knew before and no longer does are released."""
    before = {table.codec.port_of(k) for k in table.limits}
    now: set[PortKey] = set()
    done = add(table, ports, now)
    released = before - now
    for key in released:
        table.release(key)
    return dataclasses.replace(done, released=len(released))


def add(table: BindingTable, ports: Iterable[NsxPort], now: set[PortKey] | None = None) -> Imported:
    """Put these NSX ports into the table, releasing none (`now` collects the keys taken)."""
    now = set() if now is None else now
    n_ports = n_bindings = refused = unnamed = 0
    limits: dict[Discovery, PortLimits] = {}
    for port in ports:
        keys = keys_of(port)
        if not any(mac for _, mac in keys):
            unnamed += 1
        lim = limits.setdefault(port.profiles.discovery, limits_of(port.profiles.discovery))
        ignored = frozenset(pk.addr_int(b.address) for b in port.ignored if "/" not in b.address)
        if ignored:
            lim = dataclasses.replace(lim, ignored=ignored)
        n_ports += bool(keys)
        for key, mac in keys:
            mine = [b for b in (*port.realized, *port.manual) if mac is None or b.mac == mac]
            single = _unique([binding_of(b) for b in mine if "/" not in b.address])
            nets: list[tuple[Network, Binding]] = [
                (ipaddress.ip_network(b.address), binding_of(b)) for b in mine if "/" in b.address
            ]
            bound = {b.address for b in mine}
            found = [
                binding_of(b)
                for b in (*port.discovered, *port.duplicates)
                if (mac is None or b.mac == mac) and "/" not in b.address
                if b.address not in bound
            ]
            if table.replace(key, single, nets, found, lim):
                now.add(key)
                n_bindings += (len(single) + len(nets)) if mac else 0
            else:
                refused += 1
    return Imported(n_ports, n_bindings, 0, refused, unnamed)


def _unique(bindings: list[Binding]) -> list[Binding]:
    """One binding an address: a manual (USER_DEFINED) one wins, else the first."""
    out: dict[str, Binding] = {}
    for b in bindings:
        if b.address not in out or b.method is Method.MANUAL:
            out[b.address] = b
    return list(out.values())
