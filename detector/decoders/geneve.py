"""Geneve (RFC 8926 §3.4): version 0, options that exactly fill the option length, O/C bits."""

from __future__ import annotations

from typing import NamedTuple

from detector.errors import DecodeError
from detector.values import Buffer

ETH_BRIDGING = 0x6558  # Transparent Ethernet Bridging: the payload is an Ethernet frame


class Geneve(NamedTuple):
    vni: int
    protocol: int  # an EtherType
    payload: int
    oam: bool
    critical: bool
    options: tuple[tuple[int, int, bytes], ...]  # (class, type, data)


def parse(buf: Buffer, off: int, end: int) -> Geneve:
    """Decode the base header and option TLVs (RFC 8926 §3.5)."""
    if end - off < 8:
        raise DecodeError("geneve", "truncated")
    b0 = buf[off]
    if b0 >> 6 != 0:
        raise DecodeError("geneve", "bad-version")
    opt_len = (b0 & 0x3F) * 4
    flags = buf[off + 1]
    protocol = (buf[off + 2] << 8) | buf[off + 3]
    vni = (buf[off + 4] << 16) | (buf[off + 5] << 8) | buf[off + 6]
    payload = off + 8 + opt_len
    if payload > end:
        raise DecodeError("geneve", "options-past-end")
    options: list[tuple[int, int, bytes]] = []
    pos = off + 8
    while pos < payload:
        if payload - pos < 4:
            raise DecodeError("geneve", "bad-option-length")
        oclass = (buf[pos] << 8) | buf[pos + 1]
        otype = buf[pos + 2]
        size = (buf[pos + 3] & 0x1F) * 4
        if pos + 4 + size > payload:
            raise DecodeError("geneve", "bad-option-length")
        options.append((oclass, otype, bytes(buf[pos + 4 : pos + 4 + size])))
        pos += 4 + size
    return Geneve(vni, protocol, payload, bool(flags & 0x80), bool(flags & 0x40), tuple(options))
