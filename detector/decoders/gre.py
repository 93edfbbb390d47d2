"""GRE (RFC 2784, RFC 2890) carrying mirrored Ethernet: TEB and ERSPAN types I, II and III.

ERSPAN framing follows draft-foschiano-erspan-03 and Linux include/net/erspan.h: type I is bare
GRE with protocol 0x88BE and no sequence number; type II adds an 8-byte header (version 1) and
GRE carries a sequence number; type III (0x22EB) has a 12-byte header (version 2) and an optional
8-byte platform-specific subheader when its O bit is set.
"""

from __future__ import annotations

from typing import NamedTuple

from detector.errors import DecodeError
from detector.values import Buffer

TEB, ERSPAN_II, ERSPAN_III = 0x6558, 0x88BE, 0x22EB
FLAG_C, FLAG_R, FLAG_K, FLAG_S = 0x8000, 0x4000, 0x2000, 0x1000


class Mirror(NamedTuple):
    encap: str  # "gre" for TEB, "erspan" for ERSPAN of any type
    payload: int  # offset of the mirrored Ethernet frame
    session: int | None
    vlan: int | None
    ethertype: int = TEB  # what the payload is: an Ethernet frame, or IP for ERSPAN III FT=2


def parse(buf: Buffer, off: int, end: int) -> Mirror | None:
    """Decode GRE; return None for GRE that carries something other than a mirrored frame."""
    if end - off < 4:
        raise DecodeError("gre", "truncated")
    flags = (buf[off] << 8) | buf[off + 1]
    if flags & 0x0007:
        return None  # version 1 is PPTP's enhanced GRE, not a mirror
    if flags & FLAG_R:
        raise DecodeError("gre", "routing-present")
    proto = (buf[off + 2] << 8) | buf[off + 3]
    pos = off + 4 + 4 * (bool(flags & FLAG_C) + bool(flags & FLAG_K) + bool(flags & FLAG_S))
    if pos > end:
        raise DecodeError("gre", "truncated")
    if proto == TEB:
        return Mirror("gre", pos, None, None)
    if proto == ERSPAN_II:
        if not flags & FLAG_S:
            return Mirror("erspan", pos, None, None)  # type I: no ERSPAN header
        if end - pos < 8:
            raise DecodeError("erspan", "truncated")
        if buf[pos] >> 4 != 1:
            raise DecodeError("erspan", "bad-version")
        return Mirror("erspan", pos + 8, *_session_vlan(buf, pos))
    if proto == ERSPAN_III:
        if end - pos < 12:
            raise DecodeError("erspan", "truncated")
        if buf[pos] >> 4 != 2:
            raise DecodeError("erspan", "bad-version")
        payload = pos + 12 + (8 if buf[pos + 11] & 0x01 else 0)
        if payload > end:
            raise DecodeError("erspan", "truncated")
        frame_type = (buf[pos + 10] >> 2) & 0x1F  # FT: 0 Ethernet, 2 IP; others are not frames
        if frame_type not in (0, 2):
            raise DecodeError("erspan", "unsupported-frame-type")
        return Mirror("erspan", payload, *_session_vlan(buf, pos), TEB if frame_type == 0 else 0)
    return None


def _session_vlan(buf: Buffer, pos: int) -> tuple[int, int]:
    vlan = ((buf[pos] << 8) | buf[pos + 1]) & 0x0FFF
    session = ((buf[pos + 2] << 8) | buf[pos + 3]) & 0x03FF
    return session, vlan
