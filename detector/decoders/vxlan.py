"""VXLAN (RFC 7348 §5): the I flag must be set for the VNI to be valid."""

from __future__ import annotations

from detector.errors import DecodeError
from detector.values import Buffer


def parse(buf: Buffer, off: int, end: int) -> tuple[int, int]:
    """Return (VNI, offset of the inner Ethernet frame)."""
    if end - off < 8:
        raise DecodeError("vxlan", "truncated")
    if not buf[off] & 0x08:
        raise DecodeError("vxlan", "i-flag-unset")
    vni = (buf[off + 4] << 16) | (buf[off + 5] << 8) | buf[off + 6]
    return vni, off + 8


GPE_NEXT = {1: 0x0800, 2: 0x86DD, 3: 0x6558}  # IPv4, IPv6, Ethernet; 4 (NSH) is not decoded


def parse_gpe(buf: Buffer, off: int, end: int) -> tuple[int, int | None, int]:
    """Decode VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe §3.1): (VNI, payload EtherType or None, offset).

    Like Wireshark, the Next Protocol field decides the payload even when the P bit is clear.
    """
    if end - off < 8:
        raise DecodeError("vxlan", "truncated")
    if not buf[off] & 0x08:
        raise DecodeError("vxlan", "i-flag-unset")
    vni = (buf[off + 4] << 16) | (buf[off + 5] << 8) | buf[off + 6]
    return vni, GPE_NEXT.get(buf[off + 3]), off + 8
