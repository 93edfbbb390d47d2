"""A port's effective SpoofGuard and IP discovery profiles: port map, segment map, or default.

Field names and defaults follow NSX-T's Policy `IPDiscoveryProfile` (nested) and the Manager
`IpDiscoverySwitchingProfile` (flat); SpoofGuard is `address_binding_allowlist`, formerly
`address_binding_whitelist`. An empty or missing profile path means "inherit".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_SPOOFGUARD = "/infra/spoofguard-profiles/default-spoofguard-profile"
DEFAULT_DISCOVERY = "/infra/ip-discovery-profiles/default-ip-discovery-profile"


@dataclass(frozen=True, slots=True)
class Discovery:
    """What an IP discovery profile lets NSX learn; defaults are NSX-T's."""

    arp_snooping: bool = True
    arp_limit: int = 1
    dhcp_snooping: bool = True
    vmtools: bool = True
    nd_snooping: bool = False
    nd_limit: int = 3
    dhcpv6_snooping: bool = False
    tofu: bool = True
    timeout_minutes: int = 10
    vmtools_v6: bool = False
    duplicate_detection: bool = False  # off: an empty duplicate_bindings means "not checked"


V4, V6 = "ip_v4_discovery_options", "ip_v6_discovery_options"
# Discovery field: (its path in a Policy IPDiscoveryProfile, its key in a Manager profile)
FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "arp_snooping": ((V4, "arp_snooping_config", "arp_snooping_enabled"), "arp_snooping_enabled"),
    "arp_limit": ((V4, "arp_snooping_config", "arp_binding_limit"), "arp_bindings_limit"),
    "dhcp_snooping": ((V4, "dhcp_snooping_enabled"), "dhcp_snooping_enabled"),
    "vmtools": ((V4, "vmtools_enabled"), "vm_tools_enabled"),
    "nd_snooping": ((V6, "nd_snooping_config", "nd_snooping_enabled"), "nd_snooping_enabled"),
    "nd_limit": ((V6, "nd_snooping_config", "nd_snooping_limit"), "nd_bindings_limit"),
    "dhcpv6_snooping": ((V6, "dhcp_snooping_v6_enabled"), "dhcpv6_snooping_enabled"),
    "tofu": (("tofu_enabled",), "trust_on_first_use_enabled"),
    "timeout_minutes": (("arp_nd_binding_timeout",), "arp_nd_binding_timeout"),
    "vmtools_v6": ((V6, "vmtools_v6_enabled"), "vm_tools_v6_enabled"),
    "duplicate_detection": (
        ("duplicate_ip_detection", "duplicate_ip_detection_enabled"),
        "duplicate_ip_detection_enabled",
    ),
}
# The ranges the manager accepts (reference/nsx-policy-api.md); a value outside is not NSX's.
RANGES = {"arp_limit": (1, 256), "nd_limit": (2, 15), "timeout_minutes": (5, 120)}


def _dig(raw: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        raw = raw.get(key) if isinstance(raw, dict) else None
    return raw


def _valid(name: str, value: Any, default: bool | int) -> bool:
    """Is a field's value of the field's JSON type (and range)? Anything else counts as absent."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    low, high = RANGES.get(name, (0, 1 << 31))
    return isinstance(value, int) and low <= value <= high


def discovery_of(raw: dict[str, Any] | None) -> Discovery:
    """A profile object (Policy or Manager field names) as a Discovery; a key that is missing,
    of another type or out of NSX's range takes NSX's default."""
    d = Discovery()
    if not isinstance(raw, dict):
        return d
    values: dict[str, Any] = {}
    for name, (policy, manager) in FIELDS.items():
        default = getattr(d, name)
        value = _dig(raw, policy)
        value = raw.get(manager) if value is None else value
        values[name] = value if _valid(name, value, default) else default
    return Discovery(**values)


def spoofguard_on(raw: dict[str, Any] | None) -> bool:
    """Does a SpoofGuard profile drop packets from unbound addresses? Absent means off, and so
    does anything but JSON true (the audit errs towards calling a port unprotected)."""
    if not isinstance(raw, dict):
        return False
    value = raw.get("address_binding_allowlist", raw.get("address_binding_whitelist"))
    return value is True


def chosen(maps: Any, key: str) -> str:
    """The profile path the binding maps set for `key`, or "" (inherit)."""
    found = (m.get(key) for m in maps if isinstance(m, dict)) if isinstance(maps, list) else ()
    paths = sorted({p for p in found if isinstance(p, str) and p})
    return paths[0] if paths else ""


@dataclass(frozen=True, slots=True)
class Effective:
    """A port's effective profiles, with where each came from."""

    spoofguard_profile: str
    spoofguard: bool
    spoofguard_from: str  # port, segment or default
    discovery_profile: str
    discovery: Discovery
    discovery_from: str


class Profiles:
    """The profiles of a snapshot by path, resolving what applies to a port."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.spoofguard = {p["path"]: p for p in snapshot.get("spoofguard_profiles", [])}
        self.discovery = {p["path"]: p for p in snapshot.get("ip_discovery_profiles", [])}
        self._parsed: dict[str, Discovery] = {}

    def effective(self, segment: dict[str, Any], port: dict[str, Any]) -> Effective:
        sg, sg_from = self._pick(segment, port, "security_maps", "spoofguard_profile_path")
        sg = sg or DEFAULT_SPOOFGUARD
        ipd, ipd_from = self._pick(segment, port, "discovery_maps", "ip_discovery_profile_path")
        ipd = ipd or DEFAULT_DISCOVERY
        if ipd not in self._parsed:
            self._parsed[ipd] = discovery_of(self.discovery.get(ipd))
        return Effective(
            sg, spoofguard_on(self.spoofguard.get(sg)), sg_from, ipd, self._parsed[ipd], ipd_from
        )

    @staticmethod
    def _pick(
        segment: dict[str, Any], port: dict[str, Any], maps: str, key: str
    ) -> tuple[str, str]:
        path = chosen(port.get(maps), key)
        if path:
            return path, "port"
        path = chosen(segment.get(maps), key)
        return (path, "segment") if path else ("", "default")
