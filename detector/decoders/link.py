"""Link layers other than Ethernet: raw IP, BSD loopback, Linux cooked capture (SLL and SLL2).

Formats: https://www.tcpdump.org/linktypes.html (LINKTYPE_RAW, LINKTYPE_NULL,
LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2).
"""

from __future__ import annotations

from detector.decoders import ethernet
from detector.errors import DecodeError
from detector.values import (
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    LINKTYPE_RAW_BSD,
    Buffer,
)

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
RAW_LINKTYPES = frozenset((LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, *LINKTYPE_RAW_BSD))
L2 = tuple[str | None, str | None, tuple[int, ...]]  # (dst MAC, src MAC, VLAN ids)


def header(buf: Buffer, off: int, end: int, linktype: int) -> tuple[L2, int, int] | None:
    """Return (layer-2 addresses, ethertype, payload offset), or None for an unknown link type."""
    if linktype in RAW_LINKTYPES:
        if end - off < 1:
            raise DecodeError("link", "truncated")
        ethertype = {4: ETH_IPV4, 6: ETH_IPV6}.get(buf[off] >> 4)
        if ethertype is None:
            raise DecodeError("link", "not-ip")
        return (None, None, ()), ethertype, off
    if linktype == LINKTYPE_NULL:
        if end - off < 4:
            raise DecodeError("link", "truncated")
        family = max(
            int.from_bytes(buf[off : off + 4], "little"), int.from_bytes(buf[off : off + 4], "big")
        )
        ethertype = ETH_IPV4 if family == 2 else ETH_IPV6 if family in (10, 24, 28, 30) else 0
        return (None, None, ()), ethertype, off + 4
    if linktype in (LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2):
        return _sll(buf, off, end, linktype)
    return None


def _sll(buf: Buffer, off: int, end: int, linktype: int) -> tuple[L2, int, int]:
    if linktype == LINKTYPE_LINUX_SLL:
        size, hatype_at, halen_at, addr_at, proto_at = 16, 2, 5, 6, 14
    else:
        size, hatype_at, halen_at, addr_at, proto_at = 20, 8, 11, 12, 0
    if end - off < size:
        raise DecodeError("sll", "truncated")
    hatype = (buf[off + hatype_at] << 8) | buf[off + hatype_at + 1]
    halen = buf[off + halen_at]
    src = ethernet.mac_text(buf, off + addr_at) if hatype == 1 and halen == 6 else None
    proto = (buf[off + proto_at] << 8) | buf[off + proto_at + 1]
    vlans, proto, pos = ethernet.parse_tags(buf, off + size, end, proto)
    return (None, src, vlans), proto, pos
