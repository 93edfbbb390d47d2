"""Packed ports and bindings: every field survives the round trip, at the edges of its width."""

from __future__ import annotations

import pytest

from detector.bindings import packed as pk
from detector.values import Binding, Evidence, Method, PortKey


@pytest.mark.parametrize(
    "text", ["0.0.0.0", "255.255.255.255", "10.1.2.3", "::", "fe80::1", "2001:db8::ffff:1"]
)
def test_address_round_trip_and_family_bit(text: str) -> None:
    a = pk.addr_int(text)
    assert pk.addr_text(a) == text and (a & 1) == (":" in text)


@pytest.mark.parametrize("bad", ["", "10.0.0", "10.0.0.0/24", "fe80::1::2", "vtep-1"])
def test_address_rejects_what_is_not_one(bad: str) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        pk.addr_int(bad)


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("address", ["10.9.8.7", "2001:db8::42"])
def test_binding_round_trip(method: Method, address: str) -> None:
    codec = pk.Codec()
    ev = Evidence("capture.pcap", 2**48 - 1, 2**63 - 1)
    for evidence, restored in ((ev, True), (None, False)):
        b = codec.pack(pk.addr_int(address), method, evidence, restored)
        assert codec.unpack(b) == Binding(address, method, evidence, restored)


@pytest.mark.parametrize("endpoint", ["", "192.0.2.1", "2001:db8::1"])
@pytest.mark.parametrize("address", ["", "10.0.0.1", "fd00::1"])
def test_compact_port_keeps_binding_and_endpoint_apart(endpoint: str, address: str) -> None:
    codec = pk.Codec()
    b = codec.pack(pk.addr_int(address), Method.ARP, Evidence("s", 7, 9), False) if address else 0
    code = pk.addr_int(endpoint) + 1 if endpoint else 0
    assert pk.split(pk.join(b, code)) == (b, code)


@pytest.mark.parametrize(
    "port",
    [
        PortKey("geneve:5001", "00:50:56:a1:00:01"),
        PortKey("vlan:10.20", "ff:ff:ff:ff:ff:fe"),
        PortKey("ipfix:1", "vif:5d1e3c1a-0000-4000-8000-000000000001"),
        PortKey("untagged", "00:50:56:A1:00:01"),  # not canonical: kept as a name, not folded
    ],
)
def test_port_round_trip(port: PortKey) -> None:
    codec = pk.Codec()
    assert codec.port(port, create=False) is None  # unknown segment: not created by a lookup
    key = codec.port(port, create=True)
    assert key is not None and codec.port_of(key) == port
    assert codec.port(PortKey(port.segment, port.mac), create=False) == key


def test_evidence_sources_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pk, "SOURCE_CAP", 3)
    codec = pk.Codec()
    kept = [
        codec.unpack(codec.pack(2, Method.ARP, Evidence(f"s{i}", 1, 1), False)) for i in range(4)
    ]
    assert [b.evidence.source for b in kept if b.evidence] == [
        "s0",
        "s1",
        pk.SOURCE_NOT_KEPT,
        pk.SOURCE_NOT_KEPT,
    ]
    assert codec.sources_dropped == 2
