"""The engine: a MAC flood is capped, counted and alerted once; re-alerts; strict mode; gateways."""

from __future__ import annotations

from detector.bindings.table import BindingTable
from detector.config.bindings import BindingPolicy
from detector.config.detectors import EngineConfig
from detector.detectors.engine import Engine
from detector.values import AlertKind, Arp, Frame

NS = 1_000_000_000


def frame(mac: str, src_ip: str | None, t: float = 0, arp: Arp | None = None) -> Frame:
    return Frame(
        packet=1,
        ts_ns=int(t * NS),
        encap="geneve",
        vni=5001,
        outer_src="172.16.0.1",
        outer_dst="172.16.0.2",
        src_mac=mac,
        dst_mac="00:50:56:a1:00:99",
        vlans=(),
        ethertype=0x0806 if arp else 0x0800,
        src_ip=src_ip,
        dst_ip="10.0.0.99",
        ip_proto=None if arp else 1,
        arp=arp,
    )


def learned(mac: str, ip: str) -> Frame:
    return frame(mac, None, arp=Arp(1, mac, ip, "00:00:00:00:00:00", "10.0.0.99"))


def test_mac_flood_is_capped_counted_and_alerted_once() -> None:
    engine = Engine(BindingTable(BindingPolicy(max_ports=100)))
    kinds = []
    for i in range(5000):
        mac = f"02:00:00:00:{i >> 8:02x}:{i & 0xFF:02x}"
        kinds += [a.kind for a in engine.process(learned(mac, f"10.{i >> 8}.{i & 0xFF}.1"), "t")]
    assert len(engine.table) == 100
    assert engine.table.stats["ports_refused"] == 4900
    assert kinds.count(AlertKind.TABLE_FULL) == 1


def test_a_flood_of_new_ports_past_the_cap_is_one_alert_not_a_storm() -> None:
    """IP from new MACs once the table is full: no unlearned-port or unbound-source alert per
    untracked MAC, and the table-full alert survives the eviction of old alert keys."""
    engine = Engine(
        BindingTable(BindingPolicy(max_ports=100)), config=EngineConfig(max_alert_keys=50)
    )
    kinds = []
    for i in range(5000):
        mac = f"02:00:00:00:{i >> 8:02x}:{i & 0xFF:02x}"
        kinds += [a.kind for a in engine.process(frame(mac, f"10.{i >> 8}.{i & 0xFF}.1"), "t")]
    assert kinds.count(AlertKind.TABLE_FULL) == 1
    assert kinds.count(AlertKind.UNLEARNED_PORT) == 100  # the tracked ports only
    assert engine.stats.findings[AlertKind.TABLE_FULL] == 4900


def test_an_unlearned_port_is_reported_once_even_after_its_alert_key_is_forgotten() -> None:
    """More ports than alert keys, each sending twice in two passes: the second pass finds
    every key evicted, and still no port is reported again (per address family)."""
    engine = Engine(
        BindingTable(BindingPolicy(max_ports=1000)), config=EngineConfig(max_alert_keys=50)
    )
    kinds = []
    for _ in range(2):
        for i in range(300):
            mac = f"02:00:00:00:{i >> 8:02x}:{i & 0xFF:02x}"
            for src in (f"10.0.{i >> 8}.{i & 0xFF}", f"fd00::{i:x}"):
                kinds += [a.kind for a in engine.process(frame(mac, src), "t")]
    assert engine.stats.frames["alert-keys-evicted"] > 500  # the keys were forgotten
    assert kinds.count(AlertKind.UNLEARNED_PORT) == 600  # 300 ports x (IPv4, IPv6), once
    mac = "02:00:00:00:00:07"
    engine.process(learned(mac, "10.0.0.7"), "t")
    assert [a.kind for a in engine.process(frame(mac, "10.0.0.8"), "t")] == [
        AlertKind.UNBOUND_SOURCE
    ]  # what it learns later is still checked


def test_alert_once_then_realert_after_interval() -> None:
    engine = Engine(BindingTable(), config=EngineConfig(realert_ns=60 * NS))
    mac = "00:50:56:a1:00:01"
    engine.process(learned(mac, "10.0.0.1"), "t")
    counts = []
    for t in range(0, 130, 10):
        counts += [a.count for a in engine.process(frame(mac, "10.0.0.2", t), "t")]
    assert counts == [1, 7, 13]  # first packet, then at 60 s and 120 s with running counts


def test_strict_mode_reports_unlearned_ports_as_spoofing() -> None:
    mac = "00:50:56:a1:00:01"
    lenient = Engine(BindingTable()).process(frame(mac, "10.0.0.2"), "t")
    strict = Engine(BindingTable(), config=EngineConfig(strict=True)).process(
        frame(mac, "10.0.0.2"), "t"
    )
    assert [a.kind for a in lenient] == [AlertKind.UNLEARNED_PORT]
    assert [a.kind for a in strict] == [AlertKind.UNBOUND_SOURCE]


def test_gateway_mac_forwards_foreign_sources_without_alert() -> None:
    engine = Engine(BindingTable())
    dr = "02:50:56:56:44:52"
    engine.process(learned(dr, "10.0.0.1"), "t")
    assert engine.process(frame(dr, "198.51.100.7"), "t") == []


def test_exempt_sources_and_group_macs() -> None:
    engine = Engine(BindingTable())
    engine.process(learned("00:50:56:a1:00:01", "10.0.0.1"), "t")
    assert engine.process(frame("00:50:56:a1:00:01", "0.0.0.0"), "t") == []
    assert engine.process(frame("01:00:5e:00:00:01", "10.0.0.7"), "t") == []
    assert engine.stats.frames["ignored:group-source-mac"] == 1
