"""The [bindings] section's values: the limits of IP discovery and who is trusted to forward."""

from __future__ import annotations

from dataclasses import dataclass

from detector.values import PortKey, normalize_mac


@dataclass(frozen=True, slots=True)
class BindingPolicy:
    """The knobs of IP discovery; defaults are NSX-T's."""

    arp_binding_limit: int = 1
    nd_binding_limit: int = 3
    trust_on_first_use: bool = True
    binding_timeout_ns: int = 600 * 1_000_000_000  # TOEU only (NSX arp_nd_binding_timeout 10 min)
    max_ports: int = 250_000  # ~850 B a dual-stack port (3 bindings): ~210 MB when all are
    max_discovered_per_port: int = 16


# Routers forward packets from any source with their own MAC: NSX's distributed router uses one
# virtual MAC on every segment, VRRP (RFC 5798 §7.3) 00:00:5e:00:01:xx and 00:00:5e:00:02:xx.
DEFAULT_GATEWAY_MACS = ("02:50:56:56:44:52", "00:00:5e:00:01:00/40", "00:00:5e:00:02:00/40")


def _mac_int(text: str) -> int:
    return int(text.replace(":", ""), 16)


@dataclass(frozen=True, slots=True)
class MacPattern:
    """A MAC address or a prefix of one (`00:00:5e:00:01:00/40`)."""

    value: int
    bits: int

    @classmethod
    def parse(cls, text: str) -> MacPattern:
        mac, _, bits = text.partition("/")
        if bits and not bits.isdigit():
            raise ValueError(f"bad prefix length in {text!r}")
        n = int(bits) if bits else 48
        if not 0 < n <= 48:
            raise ValueError(f"prefix length of {text!r} must be 1..48")
        return cls(_mac_int(normalize_mac(mac)) >> (48 - n), n)

    def matches(self, mac: int) -> bool:
        return mac >> (48 - self.bits) == self.value


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """Who may forward foreign sources (gateways) and who may answer DHCP, per segment."""

    gateway_macs: tuple[MacPattern, ...] = tuple(MacPattern.parse(m) for m in DEFAULT_GATEWAY_MACS)
    dhcp_servers: frozenset[PortKey] = frozenset()
    learn_from_flows: bool = False  # flows carry no ARP: first-seen flows bind only if asked

    def is_gateway(self, mac: str) -> bool:
        if mac.startswith("vif:"):
            return False
        value = _mac_int(mac)
        return any(p.matches(value) for p in self.gateway_macs)

    def dhcp_servers_configured(self, segment: str) -> bool:
        return any(s.segment == segment for s in self.dhcp_servers)

    def is_trusted_dhcp_server(self, port: PortKey) -> bool:
        """An unconfigured segment trusts any server (as NSX DHCP snooping does)."""
        if not self.dhcp_servers_configured(port.segment):
            return True
        return port in self.dhcp_servers or self.is_gateway(port.mac)
