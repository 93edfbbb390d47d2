"""Ethernet II with up to two 802.1Q / 802.1ad tags (IEEE 802.3, IEEE 802.1Q)."""

from __future__ import annotations

from detector.errors import DecodeError
from detector.values import Buffer

ETH_HEADER = 14
VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100))
MAX_TAGS = 2


def mac_text(buf: Buffer, off: int) -> str:
    """Format six bytes as a lower-case, colon-separated MAC address."""
    return buf[off : off + 6].hex(":")


def parse(buf: Buffer, off: int, end: int) -> tuple[str, str, tuple[int, ...], int, int]:
    """Return (dst MAC, src MAC, VLAN ids outermost first, ethertype, payload offset)."""
    if end - off < ETH_HEADER:
        raise DecodeError("ethernet", "truncated")
    dst = mac_text(buf, off)
    src = mac_text(buf, off + 6)
    ethertype = (buf[off + 12] << 8) | buf[off + 13]
    pos = off + 14
    vlans, ethertype, pos = parse_tags(buf, pos, end, ethertype)
    return dst, src, vlans, ethertype, pos


def parse_tags(buf: Buffer, pos: int, end: int, ethertype: int) -> tuple[tuple[int, ...], int, int]:
    """Walk 802.1Q/802.1ad tags starting at pos; return (VLAN ids, inner ethertype, offset)."""
    vlans: tuple[int, ...] = ()
    while ethertype in VLAN_TPIDS:
        if len(vlans) == MAX_TAGS:
            raise DecodeError("vlan", "too-many-tags")
        if end - pos < 4:
            raise DecodeError("vlan", "truncated")
        vlans += ((((buf[pos] << 8) | buf[pos + 1]) & 0x0FFF),)
        ethertype = (buf[pos + 2] << 8) | buf[pos + 3]
        pos += 4
    return vlans, ethertype, pos
