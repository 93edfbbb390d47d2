"""The decode chain on annotated vectors: tunnels, tags, link types, fragments, errors."""

from __future__ import annotations

import pytest

from detector.decoders.chain import Decoder
from detector.values import Frame
from tests.unit.decoders.vectors import (
    GENEVE_HDR,
    INNER_ARP,
    INNER_IPV4,
    VXLAN_HDR,
    hexb,
    outer_ipv4_udp,
)


def decode(data: bytes, linktype: int = 1) -> tuple[Frame | None, Decoder]:
    d = Decoder()
    try:
        frame = d.record(data, 0, len(data), linktype, 1, 0)
    except Exception as exc:  # DecodeError: let the test see its layer and reason
        d.stats.errors[(getattr(exc, "layer", "?"), getattr(exc, "reason", str(exc)))] += 1
        frame = None
    return frame, d


def test_geneve_with_option_carries_inner_arp() -> None:
    f, _ = decode(outer_ipv4_udp(6081, GENEVE_HDR + INNER_ARP))
    assert f is not None
    assert (f.encap, f.vni, f.src_mac, f.outer_src, f.outer_dst) == (
        "geneve",
        5001,
        "00:50:56:a1:00:01",
        "172.16.0.1",
        "172.16.0.2",
    )
    assert f.options == ((0x0104, 1, bytes.fromhex("0000002a")),)
    assert f.arp is not None and (f.arp.op, f.arp.sender_ip, f.arp.target_ip) == (
        1,
        "10.1.1.10",
        "10.1.1.20",
    )


def test_outer_ipv4_options_are_skipped() -> None:
    router_alert = hexb("94040000")  # RFC 2113 router alert: IHL 6
    f, _ = decode(outer_ipv4_udp(6081, GENEVE_HDR + INNER_IPV4, router_alert))
    assert f is not None and f.src_ip == "10.1.1.11" and f.vni == 5001


def test_vxlan_on_both_ports() -> None:
    for port in (4789, 8472):
        f, _ = decode(outer_ipv4_udp(port, VXLAN_HDR + INNER_IPV4))
        assert f is not None and (f.encap, f.vni, f.src_ip) == ("vxlan", 6001, "10.1.1.11")


def test_inner_vlan_tags_two_deep_and_three_is_an_error() -> None:
    qinq = INNER_IPV4[:12] + hexb("88a8 0064", "8100 00c8") + INNER_IPV4[12:]
    f, _ = decode(outer_ipv4_udp(6081, GENEVE_HDR + qinq))
    assert f is not None and f.vlans == (100, 200) and f.src_ip == "10.1.1.11"
    three = INNER_IPV4[:12] + hexb("88a8 0064 8100 00c8 8100 012c") + INNER_IPV4[12:]
    f, d = decode(outer_ipv4_udp(6081, GENEVE_HDR + three))
    assert f is None and d.stats.errors == {("vlan", "too-many-tags"): 1}


@pytest.mark.parametrize(
    ("geneve", "reason"),
    [
        (hexb("42 00 6558 001389 00 0104 01 01 0000002a"), "bad-version"),
        (hexb("3f 00 6558 001389 00 0104 01 01 0000002a"), "options-past-end"),
        (hexb("03 00 6558 001389 00 0104 01 01 0000002a"), "bad-option-length"),
        (hexb("02 00 6558 001389 00 0104 01 02 0000002a"), "bad-option-length"),
        (hexb("02 00 6558"), "truncated"),
    ],
)
def test_geneve_checks(geneve: bytes, reason: str) -> None:
    payload = geneve + (INNER_ARP if len(geneve) > 4 else b"")
    f, d = decode(outer_ipv4_udp(6081, payload))
    assert f is None and d.stats.errors == {("geneve", reason): 1}


def test_geneve_carrying_bare_ipv4() -> None:
    hdr = hexb("00 00 0800 001389 00")  # no options, protocol IPv4
    f, _ = decode(outer_ipv4_udp(6081, hdr + INNER_IPV4[14:]))
    assert f is not None and f.src_mac is None and f.src_ip == "10.1.1.11"


def test_vxlan_without_i_flag_is_an_error() -> None:
    f, d = decode(outer_ipv4_udp(4789, hexb("00000000 00177100") + INNER_IPV4))
    assert f is None and d.stats.errors == {("vxlan", "i-flag-unset"): 1}


def gre_ip(gre: bytes) -> bytes:
    total = 20 + len(gre)
    return (
        hexb("525400100002 525400100001 0800", "4500")
        + total.to_bytes(2, "big")
        + hexb("0001 0000 40 2f 0000 ac100001 ac100003")
        + gre
    )


def test_erspan_type_ii() -> None:
    gre = hexb("1000 88be 00000007")  # S bit, ERSPAN, sequence 7
    erspan = hexb("100a", "0807", "00000001")  # ver 1, VLAN 10; En 0, session 7; index 1
    f, _ = decode(gre_ip(gre + erspan + INNER_ARP))
    assert f is not None and (f.encap, f.session, f.mirror_vlan, f.src_mac) == (
        "erspan",
        7,
        10,
        "00:50:56:a1:00:01",
    )


def test_erspan_type_iii_with_platform_subheader() -> None:
    gre = hexb("1000 22eb 00000001")
    erspan = hexb("2014 0003", "00000000", "0000 0001")  # ver 2, VLAN 20, session 3; O bit set
    f, _ = decode(gre_ip(gre + erspan + bytes(8) + INNER_IPV4))
    assert f is not None and (f.session, f.mirror_vlan, f.src_ip) == (3, 20, "10.1.1.11")


def test_erspan_type_i_and_teb() -> None:
    f, _ = decode(gre_ip(hexb("0000 88be") + INNER_ARP))
    assert f is not None and f.encap == "erspan" and f.session is None
    f, _ = decode(gre_ip(hexb("2000 6558 0000002a") + INNER_ARP))  # key present, TEB
    assert f is not None and f.encap == "gre"


def test_outer_ipv6_with_extension_headers() -> None:
    payload = GENEVE_HDR + INNER_IPV4
    udp = hexb("c000 17c1") + (8 + len(payload)).to_bytes(2, "big") + hexb("0000") + payload
    hop = hexb("11 00 0000 00000000")  # hop-by-hop, next header UDP, 8 bytes
    ip6 = (
        hexb("60000000")
        + (len(hop) + len(udp)).to_bytes(2, "big")
        + hexb("00 40")
        + bytes(15)
        + b"\x01"
        + bytes(15)
        + b"\x02"
    )
    f, _ = decode(hexb("525400100002 525400100001 86dd") + ip6 + hop + udp)
    assert f is not None and f.outer_src == "::1" and f.src_ip == "10.1.1.11"


def test_later_fragment_of_outer_is_counted_not_decoded() -> None:
    data = bytearray(outer_ipv4_udp(6081, GENEVE_HDR + INNER_IPV4))
    data[14 + 6 : 14 + 8] = (0x0010).to_bytes(2, "big")  # offset 16 × 8 bytes
    f, d = decode(bytes(data))
    assert f is not None and f.encap is None  # the underlay frame itself, not a tunnel
    assert d.stats.skipped == {("ipv4", "later-fragment"): 1}


@pytest.mark.parametrize(
    ("linktype", "header"),
    [
        (113, hexb("0000 0001 0006 525400100001 0000 0800")),  # SLL: from us, ARPHRD_ETHER
        (276, hexb("0800 0000 00000002 0001 00 06 525400100001 0000")),  # SLL2
    ],
)
def test_linux_cooked_captures(linktype: int, header: bytes) -> None:
    ip = outer_ipv4_udp(6081, GENEVE_HDR + INNER_IPV4)[14:]
    f, _ = decode(header + ip, linktype)
    assert f is not None and f.src_ip == "10.1.1.11" and f.vni == 5001


def test_raw_ip_link_type() -> None:
    f, _ = decode(outer_ipv4_udp(4789, VXLAN_HDR + INNER_IPV4)[14:], 101)
    assert f is not None and f.encap == "vxlan"


def test_nesting_beyond_depth_limit_is_an_error() -> None:
    inner = INNER_IPV4
    for _ in range(4):
        inner = outer_ipv4_udp(4789, VXLAN_HDR + inner)
    f, d = decode(inner)
    assert f is None and d.stats.errors == {("tunnel", "too-deep"): 1}


def test_unknown_link_type_is_skipped() -> None:
    f, d = decode(b"\x00" * 20, 147)
    assert f is None and d.stats.skipped == {("link", "linktype-147"): 1}


def test_one_port_table_binds_tunnels_for_the_exact_chain_and_the_batch_masks() -> None:
    from detector.config.decode import DecodeConfig
    from detector.fast.packets import columns as col

    cfg = DecodeConfig(geneve_ports=frozenset({7000}), vxlan_ports=frozenset({7001}))
    table = cfg.udp_ports()
    assert table == {7000: "geneve", 7001: "vxlan", 4790: "vxlan-gpe", 4739: "ipfix", 2055: "ipfix"}
    d = Decoder(cfg)
    for port, header, inner, encap in (
        (7000, GENEVE_HDR, INNER_ARP, "geneve"),
        (7001, VXLAN_HDR, INNER_IPV4, "vxlan"),
        (6081, GENEVE_HDR, INNER_ARP, None),  # the default Geneve port, not bound here: plain UDP
    ):
        data = outer_ipv4_udp(port, header + inner)
        frame = d.record(data, 0, len(data), 1, 1, 0)
        assert frame is not None and frame.encap == encap, port
    geneve_mask, vxlan_mask, tunnels = col.masks(cfg)
    assert set(geneve_mask.nonzero()[0]) == {7000} and set(vxlan_mask.nonzero()[0]) == {7001}
    assert set(tunnels.nonzero()[0]) == {7000, 7001, 4790}
