"""Write the sample captures in pcaps/ with scapy: deterministic, byte for byte.

Run: python pcaps/make_pcaps.py [OUTDIR]. Every packet's time, IP id and port is fixed, so the
same scapy version writes identical files (tests/golden checks the alerts they produce).
"""

from __future__ import annotations

import ipaddress
import sys
import zlib
from pathlib import Path

from scapy.contrib.erspan import ERSPAN_II
from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import ARP, GRE, Dot1Q, Ether
from scapy.layers.vrrp import VRRP
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw
from scapy.utils import PcapWriter

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
BCAST = "ff:ff:ff:ff:ff:ff"
# Hypervisor tunnel endpoints (TEPs) on the underlay.
HV = {
    1: ("52:54:00:10:00:01", "172.16.0.1"),
    2: ("52:54:00:10:00:02", "172.16.0.2"),
    3: ("52:54:00:10:00:03", "172.16.0.3"),
}
VM1, VM2, VM3 = "00:50:56:a1:00:01", "00:50:56:a1:00:02", "00:50:56:a1:00:03"
DHCPD, VM4 = "00:50:56:a1:00:fe", "00:50:56:a1:00:04"
DR_MAC = "02:50:56:56:44:52"  # NSX distributed router's virtual MAC


class Capture:
    """Packets of one scenario, each stamped one millisecond after the previous one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.packets: list[Packet] = []

    def add(self, pkt: Packet) -> None:
        pkt.time = T0 + len(self.packets) / 1000
        self.packets.append(pkt)

    def geneve(
        self, vni: int, inner: Packet, src: int, dst: int, options: list | None = None
    ) -> None:
        opts = options or []
        optlen = sum(4 + len(o.data) for o in opts) // 4
        g = GENEVE(vni=vni, proto=0x6558, optionlen=optlen, options=opts)
        self.add(self._underlay(src, dst) / UDP(sport=self._sport(inner), dport=6081) / g / inner)

    def vxlan(self, vni: int, inner: Packet, src: int, dst: int, port: int = 4789) -> None:
        udp = UDP(sport=self._sport(inner), dport=port)
        self.add(self._underlay(src, dst) / udp / VXLAN(vni=vni, flags=0x08) / inner)

    def erspan(self, session: int, vlan: int, inner: Packet, seq: int) -> None:
        gre = GRE(seqnum_present=1, sequence_number=seq, proto=0x88BE)
        hdr = ERSPAN_II(ver=1, vlan=vlan, session_id=session, en=3, index=1)
        self.add(self._underlay(1, 3) / gre / hdr / inner)

    def _underlay(self, src: int, dst: int) -> Packet:
        (smac, sip), (dmac, dip) = HV[src], HV[dst]
        return Ether(src=smac, dst=dmac) / IP(
            src=sip, dst=dip, id=len(self.packets) + 1, flags="DF"
        )

    @staticmethod
    def _sport(inner: Packet) -> int:
        return 49152 + (zlib.crc32(bytes(inner)[:34]) & 0x3FFF)  # flow entropy, as TEPs do

    def write(self, outdir: Path) -> None:
        with PcapWriter(str(outdir / f"{self.name}.pcap"), linktype=1, sync=True) as w:
            for p in self.packets:
                w.write(p)


def arp(mac: str, ip: str, target: str, op: int = 1, dst: str = BCAST) -> Packet:
    tmac = "00:00:00:00:00:00" if op == 1 else dst
    return Ether(src=mac, dst=dst) / ARP(op=op, hwsrc=mac, psrc=ip, hwdst=tmac, pdst=target)


def garp(mac: str, ip: str) -> Packet:
    return arp(mac, ip, ip)


def tagged(p: Packet, vlan: int) -> Packet:
    """The same frame with an 802.1Q tag after the MACs."""
    eth = p[Ether]
    return Ether(src=eth.src, dst=eth.dst) / Dot1Q(vlan=vlan) / eth.payload


def ping(smac: str, dmac: str, sip: str, dip: str, seq: int, reply: bool = False) -> Packet:
    icmp = ICMP(type=0 if reply else 8, id=0x4242, seq=seq)
    return Ether(src=smac, dst=dmac) / IP(src=sip, dst=dip, id=seq) / icmp / Raw(b"spoofwatch")


def ping6(smac: str, dmac: str, sip: str, dip: str, seq: int) -> Packet:
    return Ether(src=smac, dst=dmac) / IPv6(src=sip, dst=dip) / ICMPv6EchoRequest(id=7, seq=seq)


def dad(mac: str, target: str) -> Packet:
    """An RFC 4862 §5.4 duplicate-address probe: NS from :: to the solicited-node group."""
    low = ipaddress.IPv6Address(target).packed[-3:]
    group = str(ipaddress.IPv6Address(b"\xff\x02" + bytes(9) + b"\x01\xff" + low))
    dst = "33:33:ff:" + low.hex(":")
    return Ether(src=mac, dst=dst) / IPv6(src="::", dst=group) / ICMPv6ND_NS(tgt=target)


def ns(mac: str, src: str, target: str) -> Packet:
    """A neighbour solicitation from an address the port uses, asking for a neighbour."""
    return (
        Ether(src=mac, dst=BCAST)
        / IPv6(src=src, dst="ff02::1")
        / ICMPv6ND_NS(tgt=target)
        / (ICMPv6NDOptSrcLLAddr(lladdr=mac))
    )


def unsolicited_na(mac: str, addr: str) -> Packet:
    return (
        Ether(src=mac, dst="33:33:00:00:00:01")
        / IPv6(src=addr, dst="ff02::1")
        / ICMPv6ND_NA(tgt=addr, R=0, S=0, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=mac)
    )


def dhcp(server_mac: str, server_ip: str, client: str, kind: str, yiaddr: str, xid: int) -> Packet:
    """A DHCP message: client messages broadcast from 0.0.0.0, server replies unicast."""
    opts: list = [("message-type", kind)]
    if kind in ("discover", "request"):
        if kind == "request":
            opts += [("requested_addr", yiaddr), ("server_id", server_ip)]
        ip = IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
        bootp = BOOTP(op=1, chaddr=bytes.fromhex(client.replace(":", "")), xid=xid)
        return Ether(src=client, dst=BCAST) / ip / bootp / DHCP(options=[*opts, "end"])
    opts += [("server_id", server_ip), ("lease_time", 3600), ("subnet_mask", "255.255.255.0")]
    ip = IP(src=server_ip, dst=yiaddr) / UDP(sport=67, dport=68)
    bootp = BOOTP(
        op=2,
        yiaddr=yiaddr,
        siaddr=server_ip,
        chaddr=bytes.fromhex(client.replace(":", "")),
        xid=xid,
    )
    return Ether(src=server_mac, dst=client) / ip / bootp / DHCP(options=[*opts, "end"])


# ---------------------------------------------------------------- scenarios


def learn_pair(c: Capture, vni: int = 5001, hv1: int = 1, hv2: int = 2) -> None:
    """vm1 (10.1.1.10 on hv1) and vm2 (10.1.1.20 on hv2) ARP for each other and ping."""
    c.geneve(vni, arp(VM1, "10.1.1.10", "10.1.1.20"), hv1, hv2)
    c.geneve(vni, arp(VM2, "10.1.1.20", "10.1.1.10", op=2, dst=VM1), hv2, hv1)
    for seq in range(1, 4):
        c.geneve(vni, ping(VM1, VM2, "10.1.1.10", "10.1.1.20", seq), hv1, hv2)
        c.geneve(vni, ping(VM2, VM1, "10.1.1.20", "10.1.1.10", seq, reply=True), hv2, hv1)


def geneve_ip_change() -> Capture:
    """The seed story: vm1 changes its address to 10.1.1.11 and keeps talking."""
    c = Capture("geneve-ip-change")
    learn_pair(c)
    c.geneve(5001, garp(VM1, "10.1.1.11"), 1, 2)
    for seq in range(4, 9):
        c.geneve(5001, ping(VM1, VM2, "10.1.1.11", "10.1.1.20", seq), 1, 2)
        c.geneve(5001, ping(VM2, VM1, "10.1.1.20", "10.1.1.11", seq, reply=True), 2, 1)
    return c


def geneve_impersonation() -> Capture:
    """vm3 claims vm2's address by ARP, then sends from it."""
    c = Capture("geneve-impersonation")
    learn_pair(c)
    c.geneve(5001, arp(VM3, "10.1.1.30", "10.1.1.10"), 3, 1)
    c.geneve(5001, arp(VM3, "10.1.1.20", "10.1.1.10", op=2, dst=VM1), 3, 1)
    for seq in range(1, 4):
        c.geneve(5001, ping(VM3, VM1, "10.1.1.20", "10.1.1.10", seq), 3, 1)
    return c


def geneve_tenant_overlap() -> Capture:
    """Two tenants reuse 10.1.1.10 and 10.1.1.20 in VNIs 5001 and 5002: no alert."""
    c = Capture("geneve-tenant-overlap")
    learn_pair(c, 5001)
    t2a, t2b = "00:50:56:b2:00:01", "00:50:56:b2:00:02"
    c.geneve(5002, arp(t2a, "10.1.1.20", "10.1.1.10"), 2, 1)
    c.geneve(5002, arp(t2b, "10.1.1.10", "10.1.1.20", op=2, dst=t2a), 1, 2)
    for seq in range(1, 4):
        c.geneve(5002, ping(t2a, t2b, "10.1.1.20", "10.1.1.10", seq), 2, 1)
        c.geneve(5002, ping(t2b, t2a, "10.1.1.10", "10.1.1.20", seq, reply=True), 1, 2)
    return c


def dhcp_lease(c: Capture, yiaddr: str, xid: int, full: bool = True) -> None:
    if full:
        c.geneve(5001, dhcp(DHCPD, "10.1.1.2", VM4, "discover", yiaddr, xid), 1, 2)
        c.geneve(5001, dhcp(DHCPD, "10.1.1.2", VM4, "offer", yiaddr, xid), 2, 1)
    c.geneve(5001, dhcp(DHCPD, "10.1.1.2", VM4, "request", yiaddr, xid), 1, 2)
    c.geneve(5001, dhcp(DHCPD, "10.1.1.2", VM4, "ack", yiaddr, xid), 2, 1)


def geneve_dhcp_lease() -> Capture:
    """vm4 leases 10.1.1.50 from the segment's DHCP server and uses it: no alert."""
    c = Capture("geneve-dhcp-lease")
    c.geneve(5001, garp(DHCPD, "10.1.1.2"), 2, 1)
    dhcp_lease(c, "10.1.1.50", 0x1001)
    c.geneve(5001, arp(VM4, "10.1.1.50", "10.1.1.2"), 1, 2)
    for seq in range(1, 4):
        c.geneve(5001, ping(VM4, DHCPD, "10.1.1.50", "10.1.1.2", seq), 1, 2)
    return c


def geneve_dhcp_renewal() -> Capture:
    """vm4's renewal moves it to a new leased address, 10.1.1.51: still no alert."""
    c = Capture("geneve-dhcp-renewal-new-address")
    c.geneve(5001, garp(DHCPD, "10.1.1.2"), 2, 1)
    dhcp_lease(c, "10.1.1.50", 0x2001)
    c.geneve(5001, arp(VM4, "10.1.1.50", "10.1.1.2"), 1, 2)
    c.geneve(5001, ping(VM4, DHCPD, "10.1.1.50", "10.1.1.2", 1), 1, 2)
    dhcp_lease(c, "10.1.1.51", 0x2002)
    c.geneve(5001, garp(VM4, "10.1.1.51"), 1, 2)
    for seq in range(2, 5):
        c.geneve(5001, ping(VM4, DHCPD, "10.1.1.51", "10.1.1.2", seq), 1, 2)
    return c


V6_LL = "fe80::250:56ff:fea1:5"
V6_GUA = "2001:db8:1::5"
VM5 = "00:50:56:a1:00:05"


def geneve_ipv6_dad() -> Capture:
    """vm5 does DAD for its link-local and global addresses, then sends from an unlearned one."""
    c = Capture("geneve-ipv6-dad-then-unbound")
    c.geneve(5001, dad(VM5, V6_LL), 1, 2)
    c.geneve(5001, unsolicited_na(VM5, V6_LL), 1, 2)
    c.geneve(5001, dad(VM5, V6_GUA), 1, 2)
    c.geneve(5001, ping6(VM5, VM2, V6_GUA, "2001:db8:1::20", 1), 1, 2)
    for seq in range(2, 5):
        c.geneve(5001, ping6(VM5, VM2, "2001:db8:1::99", "2001:db8:1::20", seq), 1, 2)
    return c


def geneve_ipv6_privacy() -> Capture:
    """RFC 8981 temporary addresses within the ND limit of 3: no alert."""
    c = Capture("geneve-ipv6-privacy-addresses")
    temp = "2001:db8:1::a1b2:c3d4:e5f6:1789"
    for addr in (V6_LL, V6_GUA, temp):
        c.geneve(5001, dad(VM5, addr), 1, 2)
    c.geneve(5001, ns(VM5, V6_LL, "2001:db8:1::1"), 1, 2)
    for seq, src in enumerate((V6_GUA, temp, temp, V6_LL), start=1):
        c.geneve(5001, ping6(VM5, VM2, src, "2001:db8:1::20", seq), 1, 2)
    return c


def vxlan_ip_change() -> Capture:
    """The seed story on VXLAN (UDP 4789, VNI 6001) with NSX-V's port 8472 too."""
    c = Capture("vxlan-ip-change")
    c.vxlan(6001, arp(VM1, "10.2.2.10", "10.2.2.20"), 1, 2)
    c.vxlan(6001, arp(VM2, "10.2.2.20", "10.2.2.10", op=2, dst=VM1), 2, 1, port=8472)
    c.vxlan(6001, ping(VM1, VM2, "10.2.2.10", "10.2.2.20", 1), 1, 2)
    c.vxlan(6001, ping(VM1, VM2, "10.2.2.12", "10.2.2.20", 2), 1, 2)
    c.vxlan(6001, ping(VM2, VM1, "10.2.2.20", "10.2.2.12", 2, reply=True), 2, 1, port=8472)
    c.vxlan(6001, ping(VM1, VM2, "10.2.2.12", "10.2.2.20", 3), 1, 2)
    return c


def geneve_options_vlan() -> Capture:
    """Geneve with option TLVs and an inner 802.1Q tag; detection sees through both."""
    c = Capture("geneve-options-inner-vlan")
    vmw = GeneveOptions(classid=0x0104, type=0x01, length=1, data=b"\x00\x00\x00\x2a")
    ovn = GeneveOptions(
        classid=0x0102, type=0x80, length=2, data=b"\x00\x01\x00\x02\x00\x03\x00\x04"
    )

    c.geneve(5003, tagged(arp(VM1, "10.3.3.10", "10.3.3.20"), 100), 1, 2, [vmw])
    c.geneve(5003, tagged(ping(VM1, VM2, "10.3.3.10", "10.3.3.20", 1), 100), 1, 2, [vmw, ovn])
    c.geneve(5003, tagged(ping(VM1, VM2, "10.3.3.77", "10.3.3.20", 2), 100), 1, 2, [ovn])
    return c


def geneve_malformed() -> Capture:
    """Malformed tunnel packets between good ones: each is counted and the loop goes on."""
    c = Capture("geneve-malformed-between-good")
    c.geneve(5001, arp(VM1, "10.1.1.10", "10.1.1.20"), 1, 2)
    good = c.packets[-1]
    raw = bytes(good)
    udp_at, geneve_at = 14 + 20, 14 + 20 + 8
    bad_version = raw[:geneve_at] + bytes([0x40]) + raw[geneve_at + 1 :]
    overrun = raw[:geneve_at] + bytes([0x3F]) + raw[geneve_at + 1 :]
    cut_inner = raw[: geneve_at + 8 + 10]
    for b in (bad_version, overrun, cut_inner):
        c.add(Ether(b))
    vx = (
        Ether(src=HV[1][0], dst=HV[2][0])
        / IP(src=HV[1][1], dst=HV[2][1], id=99)
        / UDP(sport=50000, dport=4789)
        / VXLAN(vni=5001, flags=0x00)
        / arp(VM1, "10.1.1.10", "10.1.1.20")
    )
    c.add(vx)
    cut_ip = bytes(c.packets[0])[: udp_at - 6]
    c.add(Ether(cut_ip))
    c.geneve(5001, ping(VM1, VM2, "10.1.1.10", "10.1.1.20", 1), 1, 2)
    c.geneve(5001, ping(VM1, VM2, "10.1.1.66", "10.1.1.20", 2), 1, 2)
    return c


def underlay() -> Capture:
    """Underlay traffic between hypervisors (not an overlay) is ignored; overlay is checked."""
    c = Capture("underlay-not-overlay")
    (m1, ip1), (m2, ip2) = HV[1], HV[2]
    c.add(arp(m1, ip1, ip2))
    c.add(arp(m2, ip2, ip1, op=2, dst=m1))
    c.add(
        Ether(src=m1, dst=m2) / IP(src=ip1, dst=ip2, id=5) / TCP(sport=40000, dport=22, flags="S")
    )
    c.add(
        Ether(src=m2, dst=m1) / IP(src="198.51.100.7", dst=ip1, id=6) / TCP(sport=179, dport=40001)
    )
    c.add(Ether(src=m1, dst=m2) / IP(src=ip1, dst="172.16.0.254", id=7) / UDP(sport=123, dport=123))
    learn_pair(c)
    return c


def geneve_live_migration() -> Capture:
    """vMotion: vm1 keeps its MAC and address but now sends from hypervisor 3 (info only)."""
    c = Capture("geneve-live-migration")
    learn_pair(c)
    c.geneve(5001, garp(VM1, "10.1.1.10"), 3, 2)  # the RARP/GARP after the move (broadcast)
    for seq in range(10, 13):
        c.geneve(5001, ping(VM1, VM2, "10.1.1.10", "10.1.1.20", seq), 3, 2)
        c.geneve(5001, ping(VM2, VM1, "10.1.1.20", "10.1.1.10", seq, reply=True), 2, 3)
    return c


def geneve_vrrp() -> Capture:
    """A VRRP pair: the virtual MAC owns the virtual IP and forwards routed sources: no alert."""
    c = Capture("geneve-vrrp-virtual-mac")
    ra, rb, vmac = "00:50:56:a1:00:a1", "00:50:56:a1:00:a2", "00:00:5e:00:01:01"
    c.geneve(5001, garp(ra, "10.1.1.2"), 1, 2)
    c.geneve(5001, garp(rb, "10.1.1.3"), 2, 1)
    c.geneve(5001, garp(vmac, "10.1.1.1"), 1, 2)
    advert = (
        Ether(src=vmac, dst="01:00:5e:00:00:12")
        / IP(src="10.1.1.2", dst="224.0.0.18", ttl=255, proto=112)
        / (VRRP(vrid=1, priority=200, addrlist=["10.1.1.1"]))
    )
    for _ in range(2):
        c.geneve(5001, advert, 1, 2)
    c.geneve(5001, arp(VM2, "10.1.1.20", "10.1.1.1"), 2, 1)
    c.geneve(5001, ping(VM2, vmac, "10.1.1.20", "8.8.8.8", 1), 2, 1)
    c.geneve(5001, ping(vmac, VM2, "8.8.8.8", "10.1.1.20", 1, reply=True), 1, 2)
    c.geneve(5001, ping(DR_MAC, VM2, "192.0.2.99", "10.1.1.20", 2), 1, 2)
    return c


def erspan_ip_change() -> Capture:
    """The seed story seen through an ERSPAN type II mirror of VLAN 10 (no VNI)."""
    c = Capture("erspan-ip-change")

    frames = [
        arp(VM1, "192.168.10.10", "192.168.10.20"),
        arp(VM2, "192.168.10.20", "192.168.10.10", op=2, dst=VM1),
        ping(VM1, VM2, "192.168.10.10", "192.168.10.20", 1),
        garp(VM1, "192.168.10.11"),
        ping(VM1, VM2, "192.168.10.11", "192.168.10.20", 2),
        ping(VM1, VM2, "192.168.10.11", "192.168.10.20", 3),
    ]
    for seq, f in enumerate(frames, start=1):
        c.erspan(7, 10, tagged(f, 10), seq)
    return c


def geneve_rogue_dhcp() -> Capture:
    """A VM answers DHCP on a segment whose server is configured: rogue-dhcp, nothing learned."""
    c = Capture("geneve-rogue-dhcp")
    c.geneve(5001, garp(DHCPD, "10.1.1.2"), 2, 1)
    c.geneve(5001, garp(VM3, "10.1.1.30"), 3, 1)
    c.geneve(5001, dhcp(DHCPD, "10.1.1.2", VM4, "discover", "0.0.0.0", 0x3001), 1, 2)
    c.geneve(5001, dhcp(VM3, "10.1.1.30", VM4, "offer", "10.1.1.66", 0x3001), 3, 1)
    c.geneve(5001, dhcp(VM3, "10.1.1.30", VM4, "ack", "10.1.1.66", 0x3001), 3, 1)
    c.geneve(5001, ping(VM4, VM3, "10.1.1.66", "10.1.1.30", 1), 1, 3)
    return c


def plain_ip_change() -> Capture:
    """The seed story on a plain SPAN of VLAN 10 (no tunnel): for inspect_untunnelled, and for
    an IPFIX exporter (softflowd) that watches VM ports directly."""
    c = Capture("plain-span-ip-change")
    frames = [
        arp(VM1, "192.168.10.10", "192.168.10.20"),
        arp(VM2, "192.168.10.20", "192.168.10.10", op=2, dst=VM1),
        ping(VM1, VM2, "192.168.10.10", "192.168.10.20", 1),
        ping(VM2, VM1, "192.168.10.20", "192.168.10.10", 1, reply=True),
        garp(VM1, "192.168.10.11"),
        ping(VM1, VM2, "192.168.10.11", "192.168.10.20", 2),
        ping(VM2, VM1, "192.168.10.20", "192.168.10.11", 2, reply=True),
        ping(VM1, VM2, "192.168.10.11", "192.168.10.20", 3),
    ]
    for f in frames:
        c.add(tagged(f, 10))
    return c


class TimedCapture(Capture):
    """A capture whose packets carry the time the story gives them (`at`, seconds from T0)."""

    at = 0.0

    def add(self, pkt: Packet) -> None:
        pkt.time = T0 + round(self.at, 3)
        self.packets.append(pkt)


def geneve_incident() -> TimedCapture:
    """90 s of a segment for the forensic report: at 40 s vm1 moves to 10.1.1.11 (the seed
    story); at 70 s vm3 takes vm2's 10.1.1.20 by ARP and sends from it. Ten packets/s of pings."""
    c = TimedCapture("geneve-incident")
    vm1, vm3 = "10.1.1.10", "10.1.1.30"
    c.geneve(5001, arp(VM1, vm1, "10.1.1.20"), 1, 2)
    c.geneve(5001, arp(VM2, "10.1.1.20", vm1, op=2, dst=VM1), 2, 1)
    c.geneve(5001, arp(VM3, vm3, vm1), 3, 1)
    for tick in range(1, 900):
        c.at = tick / 10
        seq = tick & 0xFFFF
        if tick == 400:
            vm1 = "10.1.1.11"
            c.geneve(5001, garp(VM1, vm1), 1, 2)
        if tick == 700:
            c.geneve(5001, arp(VM3, "10.1.1.20", "10.1.1.10", op=2, dst=VM1), 3, 1)
        c.geneve(5001, ping(VM1, VM2, vm1, "10.1.1.20", seq), 1, 2)
        c.geneve(5001, ping(VM2, VM1, "10.1.1.20", vm1, seq, reply=True), 2, 1)
        if tick % 5 == 0:
            c.geneve(5001, ping(VM3, VM1, vm3, vm1, seq), 3, 1)
        if tick >= 700 and tick % 2 == 0:
            c.geneve(5001, ping(VM3, VM1, "10.1.1.20", "10.1.1.10", seq), 3, 1)
    return c


SCENARIOS = [
    geneve_ip_change,
    geneve_impersonation,
    geneve_tenant_overlap,
    geneve_dhcp_lease,
    geneve_dhcp_renewal,
    geneve_ipv6_dad,
    geneve_ipv6_privacy,
    vxlan_ip_change,
    geneve_options_vlan,
    geneve_malformed,
    underlay,
    geneve_live_migration,
    geneve_vrrp,
    erspan_ip_change,
    geneve_rogue_dhcp,
    plain_ip_change,
    geneve_incident,
]


def main(outdir: str = str(Path(__file__).parent)) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    for scenario in SCENARIOS:
        capture = scenario()
        capture.write(out)
        print(f"{capture.name}.pcap: {len(capture.packets)} packets")


if __name__ == "__main__":
    main(*sys.argv[1:])
