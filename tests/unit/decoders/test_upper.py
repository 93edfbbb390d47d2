"""ARP, neighbour discovery and DHCP decoders on annotated vectors."""

from __future__ import annotations

import pytest

from detector.decoders import arp, dhcp, ndp
from detector.errors import DecodeError
from tests.unit.decoders.vectors import INNER_ARP, hexb


def test_arp_fields() -> None:
    a = arp.parse(INNER_ARP, 14, len(INNER_ARP))
    assert a is not None
    assert (a.op, a.sender_mac, a.sender_ip, a.target_mac, a.target_ip) == (
        1,
        "00:50:56:a1:00:01",
        "10.1.1.10",
        "00:00:00:00:00:00",
        "10.1.1.20",
    )


def test_arp_other_hardware_is_not_ours() -> None:
    ieee1394 = hexb("0018 0800 10 04 0001") + bytes(40)
    assert arp.parse(ieee1394, 0, len(ieee1394)) is None


def test_arp_truncated() -> None:
    with pytest.raises(DecodeError, match="arp: truncated"):
        arp.parse(INNER_ARP, 14, 30)


NA = hexb(
    "88 00 0000",  # ICMPv6 type 136 (NA), code 0, checksum
    "20000000",  # flags: override
    "20010db8000100000000000000000005",  # target 2001:db8:1::5
    "02 01 005056a10005",  # option 2 (target link-layer), 1 × 8 bytes
)


def test_neighbour_advertisement() -> None:
    nd = ndp.parse(NA, 0, len(NA))
    assert nd is not None
    assert (nd.type, nd.target, nd.target_lladdr, nd.source_lladdr) == (
        136,
        "2001:db8:1::5",
        "00:50:56:a1:00:05",
        None,
    )


def test_nd_zero_length_option_is_an_error() -> None:
    bad = NA[:-8] + hexb("02 00 005056a10005")
    with pytest.raises(DecodeError, match="zero-length-option"):
        ndp.parse(bad, 0, len(bad))


def test_echo_is_not_nd() -> None:
    assert ndp.parse(hexb("80 00 0000 0007 0001"), 0, 8) is None


def dhcp_ack() -> bytes:
    return (
        hexb("02 01 06 00", "00001001", "0000 0000")  # BOOTREPLY, Ethernet, xid 0x1001
        + hexb("00000000", "0a010132", "0a010102", "00000000")  # ciaddr, yiaddr 10.1.1.50, siaddr
        + hexb("005056a10004")
        + bytes(10)  # chaddr 00:50:56:a1:00:04
        + bytes(64 + 128)  # sname, file
        + hexb("63825363")  # magic cookie
        + hexb("35 01 05", "36 04 0a010102", "00", "ff")  # type ACK, server id, pad, end
    )


def test_dhcp_ack() -> None:
    msg = dhcp_ack()
    d = dhcp.parse(msg, 0, len(msg))
    assert (d.op, d.message_type, d.xid, d.chaddr, d.yiaddr, d.server_id) == (
        2,
        dhcp.ACK,
        0x1001,
        "00:50:56:a1:00:04",
        "10.1.1.50",
        "10.1.1.2",
    )


def test_dhcp_option_past_end() -> None:
    msg = dhcp_ack()[:-4] + hexb("36 08 0a01")
    with pytest.raises(DecodeError, match="option-past-end"):
        dhcp.parse(msg, 0, len(msg))
