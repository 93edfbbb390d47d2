"""DHCPv4 (RFC 2131 §2) with the options a binding needs (RFC 2132 §9): 50, 53, 54."""

from __future__ import annotations

from detector.decoders.ethernet import mac_text
from detector.decoders.ip import ipv4_text
from detector.errors import DecodeError
from detector.values import Buffer, Dhcp

SERVER_PORT, CLIENT_PORT = 67, 68
COOKIE = b"\x63\x82\x53\x63"
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
OPT_PAD, OPT_REQUESTED, OPT_TYPE, OPT_SERVER, OPT_END = 0, 50, 53, 54, 255


def parse(buf: Buffer, off: int, end: int) -> Dhcp:
    """Decode a BOOTP/DHCP message at the start of the UDP payload."""
    if end - off < 240:
        raise DecodeError("dhcp", "truncated")
    if buf[off + 236 : off + 240] != COOKIE:
        raise DecodeError("dhcp", "bad-magic-cookie")
    htype, hlen = buf[off + 1], buf[off + 2]
    chaddr = mac_text(buf, off + 28) if (htype, hlen) == (1, 6) else buf[off + 28 : off + 34].hex()
    mtype = server = requested = None
    pos = off + 240
    while pos < end:
        code = buf[pos]
        if code == OPT_END:
            break
        if code == OPT_PAD:
            pos += 1
            continue
        if pos + 2 > end or pos + 2 + buf[pos + 1] > end:
            raise DecodeError("dhcp", "option-past-end")
        size, value = buf[pos + 1], pos + 2
        if code == OPT_TYPE and size >= 1:
            mtype = buf[value]
        elif code == OPT_SERVER and size >= 4:
            server = ipv4_text(buf, value)
        elif code == OPT_REQUESTED and size >= 4:
            requested = ipv4_text(buf, value)
        pos = value + size
    return Dhcp(
        op=buf[off],
        message_type=mtype,
        xid=int.from_bytes(buf[off + 4 : off + 8], "big"),
        chaddr=chaddr,
        yiaddr=ipv4_text(buf, off + 16),
        server_id=server,
        requested_ip=requested,
    )
