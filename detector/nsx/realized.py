"""What NSX has realized, port by port, as plain values: the truth `bindings/` imports.

From each `SegmentPortState`: realized, discovered and duplicate bindings (AddressBindingEntry:
binding {ip_address, mac_address, vlan}, source, binding_timestamp in epoch ms); from the port:
the manual `address_bindings`, and the `ignored_address_bindings` IP discovery must never bind
({ip_address, mac_address, vlan_id}). MACs written with `-` or in upper case are normalised;
`ip_address` may be an IP, a CIDR or a range. Overlay segments are named `geneve:<VNI>`, VLAN
segments `vlan:<id>`, as the wire names them.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from detector.nsx.profiles import Effective, Profiles
from detector.values import normalize_mac

SOURCE_RE = re.compile(r"[A-Z0-9_]{1,32}")


@dataclass(frozen=True, slots=True)
class NsxBinding:
    """One address NSX holds for a port, with its NSX source and time."""

    address: str  # an address, or a network in CIDR form
    mac: str
    source: str  # AddressBindingSource: ARP_SNOOPING, USER_DEFINED, ...
    timestamp_ms: int
    conflicting_port: str | None = None  # duplicates: the port NSX says it clashes with


@dataclass(frozen=True, slots=True)
class NsxPort:
    """A segment port as NSX knows it."""

    path: str
    segment: str | None  # geneve:<vni>, vlan:<id>, or None when the segment has neither
    segment_path: str
    vif: str | None  # attachment.id
    realized: tuple[NsxBinding, ...]
    discovered: tuple[NsxBinding, ...]
    duplicates: tuple[NsxBinding, ...]
    manual: tuple[NsxBinding, ...]
    profiles: Effective
    scope: str = "infra"  # infra, tier-1:<id>, project:<id>, dvportgroup
    ignored: tuple[NsxBinding, ...] = ()  # ignored_address_bindings: never bound by discovery
    parent_vif: str | None = None  # a container's CHILD port: the VIF of the VM it runs in
    traffic_tag: int | None = None  # ... and the VLAN its frames carry on that VM's vNIC

    @property
    def macs(self) -> tuple[str, ...]:
        """The MACs the port's bindings name, in first-seen order."""
        held = (*self.realized, *self.manual, *self.discovered, *self.duplicates)
        seen = dict.fromkeys(b.mac for b in held)
        return tuple(seen)


def a_vni(value: Any) -> int | None:
    """A VNI (24 bits, RFC 8926 / RFC 7348) as the API gives it, or None for anything else."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 24
    return value if ok else None


def segment_name(segment: dict[str, Any]) -> str | None:
    """The wire's name of a segment: its VNI for overlay (the intent's `overlay_id`, else the
    realized one the pull found), its VLAN for a single-VLAN segment."""
    for key in ("overlay_id", "vni"):
        vni = a_vni(segment.get(key))
        if vni is not None:
            return f"geneve:{vni}"
    vlans = segment.get("vlan_ids")
    if isinstance(vlans, list) and len(vlans) == 1:  # ["100"]; a range "0-4094" names no one VLAN
        text = str(vlans[0]) if isinstance(vlans[0], int | str) else ""
        if text.isascii() and text.isdigit() and len(text) <= 4 and int(text) <= 4094:
            return f"vlan:{int(text)}" if int(text) else "untagged"
    return None


def addresses(text: str) -> list[str]:
    """An IPElement as addresses and networks: an IP, a CIDR, or a range `a-b`."""
    text = text.strip()
    if "-" in text:
        first, last = (ipaddress.ip_address(x.strip()) for x in text.split("-", 1))
        if first.version != last.version:
            raise ValueError(f"{text}: a range from one address family to the other")
        nets = ipaddress.summarize_address_range(first, last)
        return [_compact(n) for n in nets]
    return [_compact(ipaddress.ip_network(text, strict=False))]


def _compact(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def an_object(value: Any) -> dict[str, Any]:
    """An API object, or an empty one when the answer put something else there."""
    return value if isinstance(value, dict) else {}


def strings(value: Any) -> list[str]:
    """The strings of an API list (group paths, member paths, IP elements); [] if not a list."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _bindings(
    entries: Any, skipped: Counter[str], default_source: str = "UNKNOWN"
) -> tuple[NsxBinding, ...]:
    out: list[NsxBinding] = []
    if not isinstance(entries, list | None):
        skipped["not-a-list"] += 1
        return ()
    for entry in entries or []:
        if not isinstance(entry, dict):
            skipped["not-an-object"] += 1
            continue
        inner = entry.get("binding", entry)  # AddressBindingEntry, or a PortAddressBindingEntry
        try:
            mac = normalize_mac(str(inner.get("mac_address") or ""))
            found = addresses(str(inner.get("ip_address") or ""))
            stamp = int(entry.get("binding_timestamp") or 0)
        except (ValueError, TypeError, AttributeError):
            skipped["bad-binding"] += 1
            continue
        source = str(entry.get("source") or default_source)
        if not SOURCE_RE.fullmatch(source):
            source = "UNKNOWN"  # the manager's words end up in alerts: keep them to the enum
        conflict = entry.get("conflicting_port")
        out.extend(NsxBinding(a, mac, source, max(stamp, 0), conflict) for a in found)
    return tuple(out)


def _child(attachment: dict[str, Any]) -> dict[str, Any]:
    """A CHILD attachment (NSX Container Plugin, vSphere with Tanzu): its parent VIF
    (`context_id`) and VLAN (`traffic_tag`, 0-4094); nothing for any other attachment."""
    if attachment.get("type") != "CHILD":
        return {}
    parent, tag = attachment.get("context_id"), attachment.get("traffic_tag")
    ok = isinstance(tag, int) and not isinstance(tag, bool) and 0 <= tag <= 4094
    return {
        "parent_vif": parent if isinstance(parent, str) and parent else None,
        "traffic_tag": tag if ok else None,
    }


def ports(snapshot: dict[str, Any], skipped: Counter[str] | None = None) -> Iterator[NsxPort]:
    """Every port of a snapshot with its bindings and effective profiles."""
    skipped = Counter() if skipped is None else skipped
    profiles = Profiles(snapshot)
    for segment in snapshot.get("segments", []):
        name = segment_name(segment)
        if name is None:
            skipped["segment-without-vni-or-vlan"] += 1
        for port in segment.get("ports", []):
            state, attachment = an_object(port.get("state")), an_object(port.get("attachment"))
            yield NsxPort(
                path=port["path"],
                segment=name,
                segment_path=segment["path"],
                vif=vif if isinstance(vif := attachment.get("id"), str) and vif else None,
                realized=_bindings(state.get("realized_bindings"), skipped),
                discovered=_bindings(state.get("discovered_bindings"), skipped),
                duplicates=_bindings(state.get("duplicate_bindings"), skipped),
                manual=_bindings(port.get("address_bindings"), skipped, "USER_DEFINED"),
                profiles=profiles.effective(segment, port),
                scope=scope if isinstance(scope := segment.get("scope"), str) else "infra",
                ignored=_bindings(port.get("ignored_address_bindings"), skipped, "IGNORED"),
                **_child(attachment),
            )
