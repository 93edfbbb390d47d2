"""The trust policy: which frames teach which bindings (ARP, ND, DHCP snooping), whom to trust.

This is the one place that decides what a frame teaches; detectors only read the outcomes.
- ARP (RFC 826): requests, replies and gratuitous ARP whose sender MAC is the Ethernet source;
  sender 0.0.0.0 (an RFC 5227 probe) teaches nothing.
- ND (RFC 4861, RFC 4862 §5.4): an NS binds its source, a DAD NS (source ::) binds its target,
  an NA binds its target when the target link-layer address is the sender's MAC.
- DHCPv4 (RFC 2131): an ACK from a trusted server binds yiaddr to the port of chaddr.
"""

from __future__ import annotations

from dataclasses import dataclass

from detector.bindings.manual import normalize_mac
from detector.bindings.table import BindingTable, LearnResult
from detector.decoders.dhcp import ACK, OFFER
from detector.decoders.ndp import NA, NS
from detector.values import Evidence, Frame, Method, PortKey

EXEMPT_SOURCES = frozenset(("0.0.0.0", "::"))
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


def is_server_reply(frame: Frame) -> bool:
    """A DHCP OFFER or ACK sent by a server (BOOTREPLY)."""
    d = frame.dhcp
    return d is not None and d.op == 2 and d.message_type in (OFFER, ACK)


def arp_claim(frame: Frame, mac: str) -> str | None:
    """The address an ARP frame teaches its sender's port: a request or reply whose sender is
    the port itself, and not an RFC 5227 probe (0.0.0.0). None when it teaches nothing."""
    a = frame.arp
    if a is None or a.op not in (1, 2) or a.sender_mac != mac or a.sender_ip == "0.0.0.0":
        return None
    return a.sender_ip


def learn(
    table: BindingTable, trust: TrustPolicy, frame: Frame, port: PortKey, evidence: Evidence
) -> tuple[LearnResult, ...]:
    """Apply everything a frame sent by `port` teaches; return the outcomes."""
    mac = port.mac
    results: list[LearnResult] = []
    if frame.arp is not None:
        claim = arp_claim(frame, mac)
        if claim is not None:
            results.append(table.learn(port, claim, Method.ARP, evidence))
    elif frame.nd is not None:
        nd = frame.nd
        if nd.type == NS and frame.src_ip not in (None, "::"):
            results.append(table.learn(port, frame.src_ip, Method.ND, evidence))
        elif nd.target is not None and (
            nd.type == NS  # a DAD probe (source ::) claims its target
            or (nd.type == NA and nd.target_lladdr == mac)
        ):
            results.append(table.learn(port, nd.target, Method.ND, evidence))
    elif frame.flow and trust.learn_from_flows and frame.src_ip:
        results.append(table.learn(port, frame.src_ip, Method.FLOW, evidence))
    elif frame.dhcp is not None and is_server_reply(frame):
        d = frame.dhcp
        if (
            d.message_type == ACK
            and d.yiaddr != "0.0.0.0"
            and ":" in d.chaddr
            and trust.is_trusted_dhcp_server(port)
        ):
            client = PortKey(port.segment, d.chaddr)
            results.append(table.learn(client, d.yiaddr, Method.DHCP, evidence))
    return tuple(results)
