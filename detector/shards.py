"""Which shard (collector or `replay --jobs` worker) owns a segment: one rule everyone agrees on."""

from __future__ import annotations

import zlib

SHARD_MIX = 0x9E37_79B9_7F4A_7C15  # Fibonacci hashing's multiplier (2^64 / golden ratio)
TUNNEL_CODES = {"geneve": 1, "vxlan": 2}  # as the batch path's columns number them


def shard_of(segment: str, n: int) -> int:
    """The shard (1..n) a segment belongs to, so that collectors and `replay --jobs` workers
    agree without talking: a Geneve/VXLAN segment by a multiplicative hash of (encap, VNI)
    that the batch path computes on whole columns; any other by CRC-32 of its name."""
    kind, _, vni = segment.partition(":")
    code = TUNNEL_CODES.get(kind)
    if code is not None and vni.isdigit() and int(vni) < 1 << 24:
        mixed = (((code << 24) | int(vni)) * SHARD_MIX) & 0xFFFF_FFFF_FFFF_FFFF
        return (mixed >> 32) % n + 1
    return zlib.crc32(segment.encode()) % n + 1
