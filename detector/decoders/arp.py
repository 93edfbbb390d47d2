"""ARP for Ethernet and IPv4 (RFC 826)."""

from __future__ import annotations

from detector.decoders.ethernet import mac_text
from detector.decoders.ip import ipv4_text
from detector.errors import DecodeError
from detector.values import Arp, Buffer


def parse(buf: Buffer, off: int, end: int) -> Arp | None:
    """Decode an Ethernet/IPv4 ARP message; None for other hardware or protocol types."""
    if end - off < 8:
        raise DecodeError("arp", "truncated")
    htype = (buf[off] << 8) | buf[off + 1]
    ptype = (buf[off + 2] << 8) | buf[off + 3]
    hlen, plen = buf[off + 4], buf[off + 5]
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
        return None
    if end - off < 28:
        raise DecodeError("arp", "truncated")
    return Arp(
        op=(buf[off + 6] << 8) | buf[off + 7],
        sender_mac=mac_text(buf, off + 8),
        sender_ip=ipv4_text(buf, off + 14),
        target_mac=mac_text(buf, off + 18),
        target_ip=ipv4_text(buf, off + 24),
    )
