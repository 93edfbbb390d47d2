"""The binding table: TOFU limits, duplicates, manual CIDRs, TOEU expiry, and its memory caps."""

from __future__ import annotations

import ipaddress

from detector.bindings.table import BindingTable, Outcome
from detector.config.bindings import BindingPolicy
from detector.values import Binding, Evidence, Method, PortKey

A, B = PortKey("geneve:5001", "00:50:56:a1:00:01"), PortKey("geneve:5001", "00:50:56:a1:00:02")
OTHER_TENANT = PortKey("geneve:5002", "00:50:56:a1:00:02")


def ev(t: int = 0) -> Evidence:
    return Evidence("test", 1, t * 1_000_000_000)


def test_arp_trust_on_first_use_limit_is_one() -> None:
    t = BindingTable()
    assert t.learn(A, "10.0.0.1", Method.ARP, ev()).outcome is Outcome.REALIZED
    assert t.learn(A, "10.0.0.1", Method.ARP, ev()).outcome is Outcome.KNOWN
    assert t.learn(A, "10.0.0.2", Method.ARP, ev()).outcome is Outcome.LIMIT
    assert t.is_bound(A, "10.0.0.1", 0) and not t.is_bound(A, "10.0.0.2", 0)
    assert [b.address for b in t.discovered(A)] == ["10.0.0.2"]


def test_nd_limit_three_and_dhcp_ignores_arp_limit() -> None:
    t = BindingTable()
    for i in range(3):
        assert t.learn(A, f"fe80::{i + 1}", Method.ND, ev()).outcome is Outcome.REALIZED
    assert t.learn(A, "fe80::4", Method.ND, ev()).outcome is Outcome.LIMIT
    t.learn(A, "10.0.0.1", Method.ARP, ev())
    assert t.learn(A, "10.0.0.9", Method.DHCP, ev()).outcome is Outcome.REALIZED


def test_duplicate_in_segment_is_conflict_but_other_segment_is_independent() -> None:
    t = BindingTable()
    t.learn(A, "10.0.0.1", Method.ARP, ev())
    r = t.learn(B, "10.0.0.1", Method.ARP, ev())
    assert r.outcome is Outcome.CONFLICT and r.owner == A
    assert t.learn(OTHER_TENANT, "10.0.0.1", Method.ARP, ev()).outcome is Outcome.REALIZED


def test_manual_cidr_binds_every_address_in_it() -> None:
    t = BindingTable()
    t.add_network(A, ipaddress.ip_network("10.0.0.0/28"))
    assert t.is_bound(A, "10.0.0.14", 0) and not t.is_bound(A, "10.0.0.16", 0)
    assert t.learn(A, "10.0.0.5", Method.ARP, ev()).outcome is Outcome.KNOWN


def test_trust_on_every_use_expires_unrefreshed_bindings() -> None:
    t = BindingTable(BindingPolicy(trust_on_first_use=False, binding_timeout_ns=600 * 10**9))
    t.learn(A, "10.0.0.1", Method.ARP, ev(0))
    assert t.is_bound(A, "10.0.0.1", 599 * 10**9)
    assert not t.is_bound(A, "10.0.0.1", 601 * 10**9)
    assert t.learn(B, "10.0.0.1", Method.ARP, ev(602)).outcome is Outcome.REALIZED


def test_port_cap_and_discovered_cap_bound_memory() -> None:
    t = BindingTable(BindingPolicy(max_ports=10, max_discovered_per_port=4))
    for i in range(100):
        t.learn(
            PortKey("geneve:1", f"00:00:00:00:{i // 256:02x}:{i % 256:02x}"),
            "10.0.0.1",
            Method.ARP,
            ev(),
        )
    assert len(t) == 10 and t.stats["ports_refused"] == 90
    assert t.learn(A, "10.9.9.9", Method.ARP, ev()).outcome is Outcome.TABLE_FULL
    t = BindingTable(BindingPolicy(max_discovered_per_port=4))
    for i in range(50):
        t.learn(A, f"10.1.0.{i}", Method.ARP, ev())
    assert len(t.discovered(A)) == 4 and t.stats["discovered_dropped"] > 0


def test_restore_puts_bindings_and_imported_networks_back_without_judging() -> None:
    t = BindingTable()
    first = Binding("10.0.0.1", Method.ARP, Evidence("old.pcap", 3, 4), restored=True)
    t.restore(A, first)
    t.restore(A, Binding("10.0.0.2", Method.ARP, None, restored=True))  # past the limit: kept
    t.restore(B, Binding("10.8.0.0/16", Method.MANUAL, None, restored=True))
    assert t.bindings(A)[0] == first and t.binding_count() == 3
    assert t.is_bound(A, "10.0.0.2", 0) and t.is_bound(B, "10.8.200.1", 0)
    assert t.owner("geneve:5001", "10.0.0.1", 0) == A
    assert t.learn(B, "10.0.0.1", Method.ARP, ev()).outcome is Outcome.CONFLICT


def test_ports_grow_from_packed_to_full_state_without_losing_anything() -> None:
    t = BindingTable()
    t.ensure(A)
    t.move(A, "192.0.2.1")
    t.learn(A, "10.0.0.1", Method.ARP, ev(1))  # still one packed int
    t.learn(A, "fe80::1", Method.ND, ev(2))  # a second binding: a PortState
    t.learn(A, "10.0.0.3", Method.ARP, ev(3))  # discovered
    assert t.endpoint(A) == "192.0.2.1"
    assert [b.address for b in t.bindings(A)] == ["10.0.0.1", "fe80::1"]
    assert [b.address for b in t.discovered(A)] == ["10.0.0.3"]
    assert t.has_family(A, True) and t.has_family(A, False) and not t.has_family(B, False)
    assert t.binding(A, "fe80::1") == Binding("fe80::1", Method.ND, ev(2))
    t.move(A, "2001:db8::7")
    assert t.endpoint(A) == "2001:db8::7" and t.binding_count() == 2
    t.move(A, "not-an-address")  # counted and ignored: the port keeps its endpoint
    assert t.endpoint(A) == "2001:db8::7" and t.stats["endpoint_not_an_address"] == 1
