"""UDP header (RFC 768)."""

from __future__ import annotations

from detector.errors import DecodeError
from detector.values import Buffer


def parse(buf: Buffer, off: int, end: int) -> tuple[int, int, int, int]:
    """Return (source port, destination port, payload offset, payload end)."""
    if end - off < 8:
        raise DecodeError("udp", "truncated")
    sport = (buf[off] << 8) | buf[off + 1]
    dport = (buf[off + 2] << 8) | buf[off + 3]
    length = (buf[off + 4] << 8) | buf[off + 5]
    if length and length < 8:
        raise DecodeError("udp", "bad-length")
    stop = min(end, off + length) if length else end  # 0: jumbogram or GSO
    return sport, dport, off + 8, stop
