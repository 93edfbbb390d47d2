"""The SpoofGuard posture audit: which enabled DFW rules a VM can bypass by changing its IP.

A port is unprotected when its effective SpoofGuard profile does not set
`address_binding_allowlist`: it may send from any address. A rule is bypassable when one of its
source or destination groups (or literal addresses) resolves to an unprotected port: such a VM
leaves the group, or steps into it, by changing its address. Group membership is the manager's
realized one (members/vifs, members/segment-ports, members/ip-addresses), so nested groups and
tag criteria are already expanded; ANY depends on no address and never makes a rule bypassable.
`sources_excluded` / `destinations_excluded` negate a side: the rule then matches every port
*outside* its groups, so the exposed ones are the unprotected ports outside them (each can step
into a group by taking one of its addresses), not those inside.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from detector.nsx.realized import NsxPort, addresses, an_object, ports, strings

CATEGORIES = ("Ethernet", "Emergency", "Infrastructure", "Environment", "Application", "")


@dataclass(frozen=True, slots=True)
class RuleExposure:
    """An enabled rule and the unprotected ports its groups resolve to."""

    path: str
    policy: str
    action: str
    groups: tuple[str, ...]
    exposed_ports: tuple[str, ...]
    excluded: tuple[str, ...] = ()  # the negated sides: sources, destinations


@dataclass(frozen=True, slots=True)
class Audit:
    """The posture of an estate."""

    ports: tuple[NsxPort, ...]
    rules_checked: int
    bypassable: tuple[RuleExposure, ...]
    unresolved_groups: tuple[str, ...]  # named by a rule, absent from the snapshot

    @property
    def unprotected(self) -> tuple[NsxPort, ...]:
        return tuple(p for p in self.ports if not p.profiles.spoofguard)


def _networks(port: NsxPort) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(b.address) for b in (*port.realized, *port.manual)]


class _Members:
    """Resolve a group path, or a literal address, to the ports it names."""

    def __init__(self, snapshot: dict[str, Any], all_ports: tuple[NsxPort, ...]) -> None:
        self.groups = {g["path"]: g for g in snapshot.get("groups", []) if "path" in g}
        self.ports = all_ports
        self.by_vif = {p.vif: p.path for p in all_ports if p.vif}
        self.paths = {p.path for p in all_ports}

    def of(self, ref: str) -> set[str] | None:
        """Port paths; None when a group is unknown to the snapshot."""
        if ref.startswith("/"):
            group = self.groups.get(ref)
            if group is None:
                return None
            m = an_object(group.get("members"))
            out = {p for p in strings(m.get("segment_ports")) if p in self.paths}
            vifs = m.get("vifs")
            for vif in vifs if isinstance(vifs, list) else []:
                if isinstance(vif, dict):
                    ids = (vif.get("lport_attachment_id"), vif.get("external_id"))
                    known = [i for i in ids if isinstance(i, str) and i in self.by_vif]
                    out.update(self.by_vif[i] for i in known)
            for text in strings(m.get("ip_addresses")):
                out |= self._holding(text)
            return out
        return self._holding(ref)  # a literal IP, CIDR or range in the rule

    def _holding(self, text: str) -> set[str]:
        try:
            nets = [ipaddress.ip_network(a) for a in addresses(text)]
        except ValueError:
            return set()
        return {
            p.path
            for p in self.ports
            if any(n.version == m.version and n.overlaps(m) for n in nets for m in _networks(p))
        }


def _sequence(obj: dict[str, Any]) -> int:
    """A policy's or rule's sequence_number; one that is not a JSON integer counts as 0."""
    n = obj.get("sequence_number")
    return n if isinstance(n, int) and not isinstance(n, bool) else 0


def _order(policy: dict[str, Any], rule: dict[str, Any]) -> tuple[int, int, int]:
    category = policy.get("category") or ""
    rank = CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)
    return rank, _sequence(policy), _sequence(rule)


def audit(snapshot: dict[str, Any]) -> Audit:
    """Audit a snapshot: every port's profiles, every enabled rule's exposure."""
    all_ports = tuple(ports(snapshot))
    unprotected = {p.path for p in all_ports if not p.profiles.spoofguard}
    members = _Members(snapshot, all_ports)
    rules = sorted(
        ((p, rule) for p in snapshot.get("policies", []) for rule in p.get("rules", [])),
        key=lambda pr: _order(*pr),
    )
    checked, found, unresolved = 0, [], set()
    for policy, rule in rules:
        if rule.get("disabled") is True:  # anything else may be enforced: audit it
            continue
        checked += 1
        refs: list[str] = []
        exposed: set[str] = set()
        excluded: list[str] = []
        for side in ("source", "destination"):
            side_refs = [g for g in strings(rule.get(f"{side}_groups")) if g.upper() != "ANY"]
            refs += side_refs
            inside: set[str] = set()
            for ref in side_refs:
                resolved = members.of(ref)
                if resolved is None:
                    unresolved.add(ref)
                    continue
                inside |= resolved
            if rule.get(f"{side}s_excluded") is True:  # NOT these groups (NOT ANY: no one)
                excluded.append(f"{side}s")
                if side_refs:
                    exposed |= unprotected - inside
            else:
                exposed |= inside & unprotected
        if exposed:
            found.append(
                RuleExposure(
                    rule["path"],
                    policy["path"],
                    str(rule.get("action", "")),
                    tuple(dict.fromkeys(refs)),
                    tuple(sorted(exposed)),
                    tuple(excluded),
                )
            )
    return Audit(all_ports, checked, tuple(found), tuple(sorted(unresolved)))


def to_json(result: Audit, snapshot: dict[str, Any]) -> dict[str, Any]:
    """The audit as one JSON object (`spoofwatch nsx audit --format json`)."""
    by_segment: dict[str, int] = defaultdict(int)
    for p in result.unprotected:
        by_segment[p.segment_path] += 1
    return {
        "manager": snapshot.get("manager"),
        "pulled_at": snapshot.get("pulled_at"),
        "summary": {
            "ports": len(result.ports),
            "unprotected_ports": len(result.unprotected),
            "rules_checked": result.rules_checked,
            "bypassable_rules": len(result.bypassable),
            "unresolved_groups": list(result.unresolved_groups),
        },
        "bypassable_rules": [
            {
                "path": r.path,
                "policy": r.policy,
                "action": r.action,
                "groups": list(r.groups),
                "excluded": list(r.excluded),
                "exposed_ports": list(r.exposed_ports),
            }
            for r in result.bypassable
        ],
        "ports": [
            {
                "path": p.path,
                "segment": p.segment,
                "segment_path": p.segment_path,
                "scope": p.scope,
                "vif": p.vif,
                "macs": list(p.macs),
                "addresses": [b.address for b in (*p.realized, *p.manual)],
                "spoofguard": p.profiles.spoofguard,
                "spoofguard_profile": p.profiles.spoofguard_profile,
                "spoofguard_from": p.profiles.spoofguard_from,
                "ip_discovery_profile": p.profiles.discovery_profile,
                "ip_discovery_from": p.profiles.discovery_from,
                "tofu": p.profiles.discovery.tofu,
                "arp_snooping": p.profiles.discovery.arp_snooping,
                "arp_binding_limit": p.profiles.discovery.arp_limit,
                "vmtools_v6": p.profiles.discovery.vmtools_v6,
                "duplicate_ip_detection": p.profiles.discovery.duplicate_detection,
            }
            for p in result.ports
        ],
        "unprotected_by_segment": dict(sorted(by_segment.items())),
    }
