"""The NSX fields that change a verdict, each read and applied on a golden estate: negated
groups in rules, ignored address bindings, duplicate IP detection, conflicting ports by path."""

from __future__ import annotations

from pathlib import Path

from detector.config.settings import Config
from detector.nsx import audit, drift, realized
from detector.runners.pipeline import Pipeline
from pcaps.make_pcaps import Capture, arp, ping
from tests.conftest import MemorySink
from tests.nsx_manager import Estate, entry, pulled

W1, W2, W3 = "00:50:56:c1:00:01", "00:50:56:c1:00:02", "00:50:56:c1:00:03"
GW = "00:50:56:c1:ff:ff"


def test_a_negated_group_inverts_who_is_exposed() -> None:
    e = Estate()
    on = e.profile("spoofguard-on", True)
    web = e.segment("web", vni=5001)
    inside = e.port(web, "w1", "vif-w1", realized=[entry("10.1.1.10", W1)])
    outside = e.port(web, "w2", "vif-w2", realized=[entry("10.1.1.20", W2)])
    e.port(web, "w3", "vif-w3", realized=[entry("10.1.1.30", W3)], spoofguard=on)
    group = e.group("w1-only", [{"resource_type": "Condition"}], vifs=["vif-w1"])
    e.rule("app", "to-group", [group], ["ANY"])
    e.rule("app", "to-all-but-group", [group], ["ANY"], sources_excluded=True)
    e.rule("app", "not-any", ["ANY"], ["ANY"], destinations_excluded=True)
    result = audit.audit(pulled(e))
    exposed = {r.path.rsplit("/", 1)[1]: (r.exposed_ports, r.excluded) for r in result.bypassable}
    assert exposed == {
        "to-group": ((inside,), ()),  # w1 leaves the group by changing its address
        "to-all-but-group": ((outside,), ("sources",)),  # w2 steps into it; w3 cannot
    }


def write(cap: Capture, tmp: Path) -> str:
    cap.write(tmp)
    return str(tmp / f"{cap.name}.pcap")


def test_ignored_address_bindings_are_never_bound_by_the_wire(tmp_path: Path) -> None:
    e = Estate()
    roomy = e.discovery_profile("four-addresses", arp_limit=4)
    web = e.segment("web", vni=5001, discovery=roomy)
    ignored = [{"ip_address": "10.1.1.99", "mac_address": W1, "vlan_id": 0}]
    e.port(web, "w1", "vif-w1", realized=[entry("10.1.1.10", W1)], ignored=ignored)
    snap = pulled(e)
    (port,) = realized.ports(snap)
    assert [b.address for b in port.ignored] == ["10.1.1.99"]
    cap = Capture("ignored")
    for ip in ("10.1.1.50", "10.1.1.99"):  # both claimed by gratuitous ARP, then used
        cap.geneve(5001, arp(W1, ip, ip), 1, 2)
        cap.geneve(5001, ping(W1, GW, ip, "10.1.1.1", 1), 1, 2)
    sink = MemorySink()
    Pipeline(Config(), sink, nsx_snapshot=snap).replay([write(cap, tmp_path)])
    unbound = [(a.kind.value, a.src_ip) for a in sink.alerts if a.kind.value == "unbound-source"]
    assert unbound == [("unbound-source", "10.1.1.99")]  # .50 was learned (limit 4), .99 never


def test_duplicates_are_told_apart_from_detection_that_is_off() -> None:
    for detecting in (False, True):
        e = Estate()
        prof = e.discovery_profile("dup", duplicate_detection=detecting)
        web = e.segment("web", vni=5001, discovery=prof)
        if detecting:  # NSX itself refused the second claim and names the first port by its ID
            e.port(web, "w1", "vif-w1", realized=[entry("10.1.1.10", W1)])
            dup = {**entry("10.1.1.10", W2), "conflicting_port": "w1"}
            e.port(web, "w2", "vif-w2", duplicates=[dup])
        else:  # NSX realized the address on both ports and says nothing
            e.port(web, "w1", "vif-w1", realized=[entry("10.1.1.10", W1)])
            e.port(web, "w2", "vif-w2", realized=[entry("10.1.1.10", W2)])
        rows = [
            (d.kind, d.mac, d.address, d.detail) for d in drift.drift(realized.ports(pulled(e)), [])
        ]
        dups = [r for r in rows if r[0] == "duplicate"]
        if detecting:
            assert dups == [("duplicate", W2, "10.1.1.10", "also on /infra/segments/web/ports/w1")]
        else:
            assert [(k, m, a) for k, m, a, _ in dups] == [
                ("duplicate", W1, "10.1.1.10"),
                ("duplicate", W2, "10.1.1.10"),
            ]
            assert "duplicate IP detection is off in /infra/ip-discovery-profiles/dup" in dups[0][3]


def test_a_version_1_snapshot_still_loads(tmp_path: Path) -> None:
    """Before scopes: only /infra segments, no scope and no vni_method."""
    import json

    from detector.nsx import snapshot

    doc = {
        "format": snapshot.FORMAT,
        "version": 1,
        "manager": "https://nsx.old",
        "pulled_at": "2026-11-01T00:00:00Z",
        "segments": [
            {"path": "/infra/segments/web", "id": "web", "overlay_id": 5001,
             "ports": [{"path": "/infra/segments/web/ports/w1", "attachment": {"id": "vif-w1"},
                        "state": {"realized_bindings": [entry("10.1.1.10", W1)]}}]},
            {"path": "/infra/segments/mgmt", "id": "mgmt", "vlan_ids": ["100"], "ports": []},
        ],
    }  # fmt: skip
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(doc))
    loaded = snapshot.load(path)
    (port,) = realized.ports(loaded)
    assert (port.segment, port.scope, [b.address for b in port.realized]) == (
        "geneve:5001",
        "infra",
        ["10.1.1.10"],
    )
    assert snapshot.census(loaded) == "2 segments (infra 2), 1 port; VNI by intent 1, none 1"


def test_the_audit_covers_a_projects_own_rules_and_ports() -> None:
    """A project's DFW policy, naming a project group of a port on a project segment."""
    e = Estate()
    db = e.segment("db", vni=5003, project="tenant-b")
    port = e.port(db, "d1", "vif-d1", realized=[entry("10.3.0.10", W1)])
    group = e.group("db-vms", [{"resource_type": "Condition"}], vifs=["vif-d1"], project="tenant-b")
    rule = e.rule("tenant-app", "to-db", ["ANY"], [group], action="ALLOW", project="tenant-b")
    result = audit.audit(pulled(e))
    assert [(r.path, r.exposed_ports) for r in result.bypassable] == [(rule, (port,))]
    assert rule.startswith("/orgs/default/projects/tenant-b/infra/domains/default/")


def test_container_child_ports_are_ports_of_their_own(tmp_path: Path) -> None:
    """A pod's CHILD port sits on its own segment: on the overlay its frames carry that
    segment's VNI and the pod's MAC (the VLAN tag lives only on the VM's vNIC). The parent's
    bindings never cover the child's traffic, nor the reverse."""
    node, pod_a, pod_b = "00:50:56:d1:00:01", "02:42:0a:f4:01:0a", "02:42:0a:f4:01:14"
    e = Estate()
    nodes = e.segment("nodes", vni=5010)
    e.port(nodes, "node-1", "vif-node-1", realized=[entry("10.10.0.5", node)])
    pods = e.segment("pods", vni=5011, project="k8s")
    e.port(pods, "pod-a", "vif-pod-a", realized=[entry("10.244.1.10", pod_a)],
           child_of="vif-node-1", tag=101)  # fmt: skip
    e.port(pods, "pod-b", "vif-pod-b", realized=[entry("10.244.1.20", pod_b)],
           child_of="vif-node-1", tag=102)  # fmt: skip
    snap = pulled(e)
    children = {
        p.path.rsplit("/", 1)[1]: (p.parent_vif, p.traffic_tag) for p in realized.ports(snap)
    }
    assert children == {
        "node-1": (None, None),
        "pod-a": ("vif-node-1", 101),
        "pod-b": ("vif-node-1", 102),
    }
    from detector.nsx import snapshot

    assert "3 ports (2 child ports)" in snapshot.census(snap)
    cap = Capture("child-ports")
    cap.geneve(5011, ping(pod_a, GW, "10.244.1.11", "10.244.1.1", 1), 1, 2)  # moved before start
    cap.geneve(5011, ping(pod_b, GW, "10.244.1.20", "10.244.1.1", 1), 1, 2)  # its own address
    cap.geneve(5010, ping(node, GW, "10.10.0.5", "10.10.0.1", 1), 1, 2)  # the VM itself
    cap.geneve(5011, ping(pod_b, GW, "10.10.0.5", "10.244.1.1", 2), 1, 2)  # the parent's address
    sink = MemorySink()
    Pipeline(Config(), sink, nsx_snapshot=snap).replay([write(cap, tmp_path)])
    unbound = sorted(
        (a.port.segment, a.port.mac, a.src_ip)
        for a in sink.alerts
        if a.kind.value == "unbound-source"
    )
    assert unbound == [("geneve:5011", pod_a, "10.244.1.11"), ("geneve:5011", pod_b, "10.10.0.5")]
