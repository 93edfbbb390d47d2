"""The compiled flow keys say exactly what `flow_frame` says of each record, for any template."""

from __future__ import annotations

import socket
import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.decoders.ipfix.decoder import IpfixDecoder
from detector.decoders.ipfix.observations import flow_frame
from detector.decoders.ipfix.records import FlowSet
from detector.fast.flows import columns as flowcols
from detector.fast.packets import columns as col
from detector.values import is_unicast

VMWARE = 6876
KEY_ELEMENTS = [(0, 56, 6), (0, 81, 6), (0, 80, 6), (0, 351, 8)]
SOURCES = [(0, 8, 4), (0, 27, 16), (VMWARE, 881, 4), (VMWARE, 883, 16), (0, 8, 16), (0, 27, 4)]
FILLER = [(0, 2, 8), (0, 4, 1), (0, 7, 2), (0, 58, 2), (0, 152, 8), (VMWARE, 961, 12)]
FILLER += [(0, 56, 4), (0, 56, 12), (0, 80, 12), (0, 351, 4)]  # wrong lengths: ints or hex
NO_CACHE = (np.zeros(1, np.uint64), np.zeros((1, 9), np.uint64), np.zeros(1, np.bool_))


def expected(flow_values: dict[str, object], exporter: str, learn: bool) -> list[int]:
    """The key the exact path implies for one record, or all zeros where it must go exact."""
    from detector.decoders.ipfix.decoder import Flow

    frame = flow_frame(Flow(exporter, 1, 0, flow_values), 1)
    if frame is None or frame.encap not in ("geneve", "vxlan") or not is_unicast(frame.src_mac):
        return [0] * 9
    assert frame.src_mac is not None and frame.src_ip is not None and frame.vni is not None
    if frame.src_mac.startswith("vif:"):
        return [0] * 9
    encap = col.ENCAP_GENEVE if frame.encap == "geneve" else col.ENCAP_VXLAN
    if ":" in frame.src_ip:
        hi, lo = struct.unpack(">QQ", socket.inet_pton(socket.AF_INET6, frame.src_ip))
        if hi == 2**64 - 1:  # would read as IPv4 in the key: the exact path's
            return [0] * 9
        code = col.IPV6
    else:
        hi, lo = 2**64 - 1, int.from_bytes(socket.inet_pton(socket.AF_INET, frame.src_ip))
        code = col.IPV4
    mac = int(frame.src_mac.replace(":", ""), 16)
    unicast = int(frame.dst_mac is not None and is_unicast(frame.dst_mac))
    out_lo = int.from_bytes(socket.inet_pton(socket.AF_INET, exporter))
    return [
        encap,
        frame.vni,
        mac,
        col.ARP_LEARN if learn else code,
        hi,
        lo,
        2**64 - 1,
        out_lo,
        unicast,
    ]


@st.composite
def flow_sets(draw: st.DrawFn) -> tuple[tuple[tuple[int, int, int], ...], bytes]:
    shape = draw(st.sampled_from(["overlay", "plain", "any"]))
    chosen = []
    if shape == "overlay":  # a MAC port in a segment, with a source: the key columns' case
        chosen = [
            draw(st.sampled_from(KEY_ELEMENTS[:2])),
            (0, 351, 8),
            draw(st.sampled_from(SOURCES[:4])),
        ]
    elif shape == "plain":  # a MAC or VIF port on a VLAN or none, with a source: judged keys
        chosen = [draw(st.sampled_from([(0, 56, 6), (VMWARE, 960, 16), (VMWARE, 961, 12)]))]
        chosen.append(draw(st.sampled_from(SOURCES[:4])))
        chosen += draw(st.lists(st.just((0, 58, 2)), max_size=1))
    chosen += draw(st.lists(st.sampled_from(KEY_ELEMENTS), max_size=3))
    chosen += draw(st.lists(st.sampled_from(SOURCES), max_size=2))
    chosen += draw(st.lists(st.sampled_from(FILLER), max_size=3))
    fields = tuple(draw(st.permutations(chosen)))
    size = sum(n for _, _, n in fields)
    records = draw(st.integers(1, 8))
    few = draw(st.booleans())  # records drawn from a few distinct ones, as real flows repeat
    # Bytes that hit the interesting values often: segment types 1 and 7, group MAC bits.
    body = bytearray(draw(st.binary(min_size=size * records, max_size=size * records)))
    pos = 0
    for _, ie, n in fields:
        for r in range(records):
            at = r * size + pos
            if ie == 351 and draw(st.booleans()):
                body[at] = draw(st.sampled_from([0x01, 0x07]))
            if ie in (56, 80, 81) and n == 6 and draw(st.booleans()):
                body[at] &= 0xFE
        pos += n
    if few:
        for r in range(2, records):
            body[r * size : (r + 1) * size] = body[(r % 2) * size : (r % 2 + 1) * size]
    return fields, bytes(body)


@settings(max_examples=3000, deadline=None)
@given(flow_sets(), st.booleans())
def test_kernel_keys_equal_what_flow_frame_decides(case, learn: bool) -> None:  # type: ignore[no-untyped-def]
    fields, body = case
    size = sum(n for _, _, n in fields)
    if size == 0:
        return
    fs = FlowSet("192.0.2.7", 1, 0, fields, body, size)
    found = flowcols.keys(fs, learn, NO_CACHE)
    flows = IpfixDecoder().expand(fs)
    want = [expected(f.values, fs.exporter, learn) for f in flows]
    if found is None:  # the template cannot take the batch path: every record goes exact
        assert flowcols.plan(fields) is None
        return
    got = found.keys.T.tolist()
    assert got == [[int(x) for x in row] for row in want]
    assert found.misses == sum(1 for row in want if row[3])


def test_an_ipv6_source_or_exporter_that_would_read_as_ipv4_goes_exact() -> None:
    """High bits all ones are the key's IPv4 mark: such an IPv6 address (ffff:ffff:ffff:ffff::/64,
    unassigned) is left to the exact path, not judged as the IPv4 address in its low bits."""
    fields = ((0, 56, 6), (0, 351, 8), (0, 27, 16))
    source = socket.inet_pton(socket.AF_INET6, "ffff:ffff:ffff:ffff::a01:10a")
    body = bytes.fromhex("005056a10001") + (7 << 56 | 5001).to_bytes(8, "big") + source
    found = flowcols.keys(FlowSet("192.0.2.7", 1, 0, fields, body, len(body)), False, NO_CACHE)
    assert found is not None and found.keys[:, 0].tolist() == [0] * 9
    ordinary = body[:-16] + socket.inet_pton(socket.AF_INET6, "fd00::a01:10a")
    found = flowcols.keys(FlowSet("192.0.2.7", 1, 0, fields, ordinary, len(body)), False, NO_CACHE)
    assert found is not None and found.keys[3, 0] == col.IPV6
    exporter = "ffff:ffff:ffff:ffff::7"
    assert (
        flowcols.keys(FlowSet(exporter, 1, 0, fields, ordinary, len(body)), False, NO_CACHE) is None
    )
