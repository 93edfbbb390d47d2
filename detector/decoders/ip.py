"""IPv4 (RFC 791) and IPv6 (RFC 8200) headers, skipping the extension headers before L4."""

from __future__ import annotations

import socket
from typing import NamedTuple

from detector.errors import DecodeError
from detector.values import Buffer

# RFC 8200 §4: extension headers that may precede UDP, GRE or ICMPv6.
HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS, NO_NEXT = 0, 43, 44, 60, 59


class IPHeader(NamedTuple):
    src: str
    dst: str
    proto: int  # next protocol after the extension headers
    payload: int  # offset of the L4 header
    end: int  # end of the IP packet (bounded by the capture)
    later_fragment: bool  # a non-first fragment: no L4 header here


def ipv4_text(buf: Buffer, off: int) -> str:
    return socket.inet_ntop(socket.AF_INET, buf[off : off + 4])


def ipv6_text(buf: Buffer, off: int) -> str:
    return socket.inet_ntop(socket.AF_INET6, buf[off : off + 16])


def parse_ipv4(buf: Buffer, off: int, end: int) -> IPHeader:
    """Decode an IPv4 header (options allowed); the total length bounds the payload."""
    if end - off < 20:
        raise DecodeError("ipv4", "truncated")
    vihl = buf[off]
    if vihl >> 4 != 4:
        raise DecodeError("ipv4", "bad-version")
    ihl = (vihl & 0x0F) * 4
    if ihl < 20:
        raise DecodeError("ipv4", "bad-header-length")
    if end - off < ihl:
        raise DecodeError("ipv4", "truncated")
    total = (buf[off + 2] << 8) | buf[off + 3]
    if total < ihl:
        # TSO/GSO captures carry total length 0; trust the capture length then.
        if total != 0:
            raise DecodeError("ipv4", "bad-total-length")
        total = end - off
    frag = ((buf[off + 6] << 8) | buf[off + 7]) & 0x1FFF
    return IPHeader(
        ipv4_text(buf, off + 12),
        ipv4_text(buf, off + 16),
        buf[off + 9],
        off + ihl,
        min(end, off + total),
        frag != 0,
    )


def parse_ipv6(buf: Buffer, off: int, end: int) -> IPHeader:
    """Decode an IPv6 header and skip hop-by-hop, routing, fragment and destination options."""
    if end - off < 40:
        raise DecodeError("ipv6", "truncated")
    if buf[off] >> 4 != 6:
        raise DecodeError("ipv6", "bad-version")
    plen = (buf[off + 4] << 8) | buf[off + 5]
    stop = min(end, off + 40 + plen) if plen else end  # jumbograms carry 0
    nxt = buf[off + 6]
    pos = off + 40
    later = False
    for _ in range(8):  # bound the walk: a hostile chain cannot loop
        if nxt in (HOP_BY_HOP, ROUTING, DEST_OPTS):
            if stop - pos < 8:
                raise DecodeError("ipv6", "truncated-extension")
            nxt, pos = buf[pos], pos + (buf[pos + 1] + 1) * 8
        elif nxt == FRAGMENT:
            if stop - pos < 8:
                raise DecodeError("ipv6", "truncated-extension")
            later = (((buf[pos + 2] << 8) | buf[pos + 3]) >> 3) != 0
            nxt, pos = buf[pos], pos + 8
        else:
            break
    else:
        raise DecodeError("ipv6", "too-many-extensions")
    if pos > stop:
        raise DecodeError("ipv6", "truncated-extension")
    return IPHeader(ipv6_text(buf, off + 8), ipv6_text(buf, off + 24), nxt, pos, stop, later)
