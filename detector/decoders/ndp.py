"""ICMPv6 neighbour discovery (RFC 4861 §4): RS, RA, NS, NA, redirect, link-layer options."""

from __future__ import annotations

from detector.decoders.ethernet import mac_text
from detector.decoders.ip import ipv6_text
from detector.errors import DecodeError
from detector.values import Buffer, Nd

RS, RA, NS, NA, REDIRECT = 133, 134, 135, 136, 137
# Offset of the options after the ICMPv6 header (RFC 4861 §4.1-4.5).
OPTIONS_AT = {RS: 8, RA: 16, NS: 24, NA: 24, REDIRECT: 40}
OPT_SOURCE_LL, OPT_TARGET_LL = 1, 2


def parse(buf: Buffer, off: int, end: int) -> Nd | None:
    """Decode an ND message at the ICMPv6 header; None for other ICMPv6 types."""
    if end - off < 4:
        raise DecodeError("icmpv6", "truncated")
    kind = buf[off]
    start = OPTIONS_AT.get(kind)
    if start is None:
        return None
    if buf[off + 1] != 0:
        raise DecodeError("ndp", "bad-code")  # RFC 4861 §7.1.1: code must be 0
    if end - off < start:
        raise DecodeError("ndp", "truncated")
    target = ipv6_text(buf, off + 8) if kind in (NS, NA, REDIRECT) else None
    sll = tll = None
    pos = off + start
    while pos + 2 <= end:
        otype, olen = buf[pos], buf[pos + 1] * 8
        if olen == 0:
            raise DecodeError("ndp", "zero-length-option")  # RFC 4861 §4.6
        if pos + olen > end:
            raise DecodeError("ndp", "option-past-end")
        if otype == OPT_SOURCE_LL and olen >= 8:
            sll = mac_text(buf, pos + 2)
        elif otype == OPT_TARGET_LL and olen >= 8:
            tll = mac_text(buf, pos + 2)
        pos += olen
    return Nd(kind, target, sll, tll)
