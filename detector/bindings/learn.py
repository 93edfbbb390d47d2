"""The trust policy: which frames teach which bindings (ARP, ND, DHCP snooping), whom to trust.

This is the one place that decides what a frame teaches; detectors only read the outcomes.
- ARP (RFC 826): requests, replies and gratuitous ARP whose sender MAC is the Ethernet source;
  sender 0.0.0.0 (an RFC 5227 probe) teaches nothing.
- ND (RFC 4861, RFC 4862 §5.4): an NS binds its source, a DAD NS (source ::) binds its target,
  an NA binds its target when the target link-layer address is the sender's MAC.
- DHCPv4 (RFC 2131): an ACK from a trusted server binds yiaddr to the port of chaddr.
"""

from __future__ import annotations

from detector.bindings.table import BindingTable, LearnResult
from detector.config.bindings import TrustPolicy
from detector.decoders.dhcp import ACK, OFFER
from detector.decoders.ndp import NA, NS
from detector.values import Evidence, Frame, Method, PortKey

EXEMPT_SOURCES = frozenset(("0.0.0.0", "::"))


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
