"""Hand-annotated frames for the decoder tests: every field spelled out, then joined."""

from __future__ import annotations


def hexb(*parts: str) -> bytes:
    """Join annotated hex fragments ("0800  # ethertype") into bytes."""
    return bytes.fromhex("".join(p.split("#")[0] for p in parts).replace(" ", ""))


INNER_ARP = hexb(
    "ffffffffffff",  # dst: broadcast
    "005056a10001",  # src: the VM
    "0806",  # ethertype ARP
    "0001 0800 06 04 0001",  # Ethernet/IPv4, hlen 6, plen 4, op request
    "005056a10001 0a01010a",  # sender 00:50:56:a1:00:01 10.1.1.10
    "000000000000 0a010114",  # target 10.1.1.20
)
INNER_IPV4 = hexb(
    "005056a10002 005056a10001 0800",  # dst, src, IPv4
    "45 00 001c 0001 0000 40 01 0000",  # v4 IHL 5, len 28, ICMP
    "0a01010b 0a010114",  # 10.1.1.11 → 10.1.1.20
    "0800 f7ff 0000 0000",  # ICMP echo
)


def outer_ipv4_udp(dport: int, payload: bytes, options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    total = ihl * 4 + 8 + len(payload)
    return (
        hexb("525400100002 525400100001 0800")  # underlay Ethernet
        + bytes([0x40 | ihl, 0])
        + total.to_bytes(2, "big")
        + hexb("0001 4000 40 11 0000", "ac100001 ac100002")  # DF, TTL 64, UDP, 172.16.0.1 → .2
        + options
        + hexb("c000")  # UDP source port 49152
        + dport.to_bytes(2, "big")
        + (8 + len(payload)).to_bytes(2, "big")
        + hexb("0000")
        + payload
    )


GENEVE_HDR = hexb(
    "02",  # version 0, option length 2 words (8 bytes)
    "00",  # no O/C bits
    "6558",  # protocol: Transparent Ethernet Bridging
    "001389 00",  # VNI 5001, reserved
    "0104 01 01 0000002a",  # option class 0x0104 (VMware), type 1, 1 word of data
)
VXLAN_HDR = hexb("08 000000", "001771 00")  # I flag, VNI 6001
