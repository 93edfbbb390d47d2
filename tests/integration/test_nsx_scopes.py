"""NSX estates as they are: segments under /infra, Tier-1s, projects and DVPortgroups, and VNIs
the intent does not carry, pulled from the local test manager and judged on a late-start capture."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pcaps.make_pcaps import Capture, ping
from tests.integration.test_nsx import alerts, config, spoofwatch
from tests.nsx_manager import Estate, Manager, entry, make_ca

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
GW = "00:50:56:a1:ff:01"
# (scope, segment, VNI on the wire, VM that changed its address before the capture, benign VM)
CASES = [
    ("infra", "web", 5001, "00:50:56:b1:00:01", "00:50:56:b1:00:02"),
    ("tier-1", "app", 5002, "00:50:56:b2:00:01", "00:50:56:b2:00:02"),
    ("project", "db", 5003, "00:50:56:b3:00:01", "00:50:56:b3:00:02"),
]


def estate() -> Estate:
    """One segment a scope; the project's segment has no overlay_id (its VNI is realized)."""
    e = Estate()
    for scope, sid, vni, moved, benign in CASES:
        where = {"tier1": "t1-blue"} if scope == "tier-1" else {}
        if scope == "project":
            where = {"project": "tenant-b"}
        intent = None if scope == "project" else vni
        seg = e.segment(sid, vni=intent, realized_vni=vni, **where)
        e.port(seg, f"{sid}-moved", f"vif-{sid}-1", realized=[entry(f"10.{vni % 100}.0.10", moved)])
        e.port(
            seg, f"{sid}-benign", f"vif-{sid}-2", realized=[entry(f"10.{vni % 100}.0.20", benign)]
        )
    dv = e.segment("dvpg-100", vlan=100, dvportgroup=True)
    e.port(dv, "dv-port", "vif-dv", realized=[entry("192.168.100.5", "00:50:56:b4:00:01")])
    e.segment("dark", realized_vni=None)  # an overlay segment NSX has not realized yet
    return e


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def late_start(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each scope's moved VM already speaks from .11 (NSX holds .10); the benign one from .20."""
    cap = Capture("late-start-scopes")
    for _, _, vni, moved, benign in CASES:
        net = f"10.{vni % 100}.0"
        for seq in range(3):
            cap.geneve(vni, ping(moved, GW, f"{net}.11", f"{net}.1", seq), 1, 2)
            cap.geneve(vni, ping(benign, GW, f"{net}.20", f"{net}.1", seq), 1, 2)
    out = tmp_path_factory.mktemp("cap")
    cap.write(out)
    return out / "late-start-scopes.pcap"


def serve(tls: tuple[Path, Path, Path], e: Estate) -> tuple[Manager, str, object]:
    m = Manager()
    m.load(e)
    server = m.serve(tls[1], tls[2])
    return m, f"https://127.0.0.1:{server.server_address[1]}", server


def snapshot_of(
    tls: tuple[Path, Path, Path],
    tmp: Path,
    faults: tuple[tuple[str, int, int], ...] = (),
    extra: str = "",
) -> tuple[Manager, subprocess.CompletedProcess[str], dict[str, Any]]:
    """`spoofwatch nsx snapshot` of the scope estate, the manager failing as `faults` say
    (substring, status, times): the manager, the command's outcome and the snapshot."""
    m, url, server = serve(tls, estate())
    for match, status, times in faults:
        m.fail(match, status, times=times)
    snap = tmp / "nsx.json"
    try:
        cfg = config(tmp, url, tls[0], extra=extra)
        made = spoofwatch("nsx", "snapshot", "--config", str(cfg), "--out", str(snap))
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    assert made.returncode == 0, made.stderr
    return m, made, json.loads(snap.read_text())


def test_every_scope_is_pulled_each_segment_by_its_own_path(
    tls: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    m, made, doc = snapshot_of(tls, tmp_path)
    assert doc["version"] == 2
    got = {s["path"]: (s["scope"], s.get("vni"), s["vni_method"]) for s in doc["segments"]}
    assert got == {
        "/infra/segments/web": ("infra", 5001, "intent"),
        "/infra/tier-1s/t1-blue/segments/app": ("tier-1:t1-blue", 5002, "intent"),
        "/orgs/default/projects/tenant-b/infra/segments/db": ("project:tenant-b", 5003, "realized"),
        "/infra/segments/dvpg-100": ("dvportgroup", None, "none"),
        "/infra/segments/dark": ("infra", None, "none"),
    }
    dark = next(s for s in doc["segments"] if s["path"].endswith("/dark"))
    assert dark["vni_unmapped"] == "not-realized"
    ports = {p["path"] for s in doc["segments"] for p in s["ports"]}
    assert "/orgs/default/projects/tenant-b/infra/segments/db/ports/db-moved" in ports
    # every port was read at its own path: its state, under the project's and the Tier-1's tree
    assert (
        m.hits[
            "/policy/api/v1/orgs/default/projects/tenant-b/infra/segments/db/ports/db-moved/state"
        ]
        == 1
    )
    assert m.hits["/policy/api/v1/infra/tier-1s/t1-blue/segments/app/ports/app-moved/state"] == 1
    assert m.hits["/api/v1/logical-switches/ls-db-0000-1111"] == 1
    assert "5 segments (dvportgroup 1, infra 2, project 1, tier-1 1), 7 ports" in made.stderr
    assert (
        "VNI by intent 2, none 2, realized 1 (unmapped: not-realized 1, vlan-segment 1)"
        in made.stderr
    )


def test_a_late_start_in_every_scope_is_alerted_on_the_right_port(
    tls: tuple[Path, Path, Path], tmp_path: Path, late_start: Path
) -> None:
    _, url, server = serve(tls, estate())
    try:
        cfg = config(tmp_path, url, tls[0])
        snap = tmp_path / "nsx.json"
        assert (
            spoofwatch("nsx", "snapshot", "--config", str(cfg), "--out", str(snap)).returncode == 0
        )
        runs = [spoofwatch("replay", str(late_start), "--quiet", *how)
                for how in (["--nsx-snapshot", str(snap)], ["--config", str(cfg)])]  # fmt: skip
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    for got in runs:
        assert got.returncode == 0, got.stderr
        unbound = sorted(
            (a["segment"], a["mac"], a["src_ip"], a["bindings"][0]["learned_by"])
            for a in alerts(got.stdout)
            if a["kind"] == "unbound-source"
        )
        assert unbound == [
            (f"geneve:{vni}", moved, f"10.{vni % 100}.0.11", "nsx ARP_SNOOPING")
            for _, _, vni, moved, _ in CASES
        ]


def test_a_manager_without_projects_or_tier1_reads_is_not_fatal(
    tls: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    faults = (("/orgs/default/projects", 404, 1), ("/infra/tier-1s", 403, 1))
    _, made, doc = snapshot_of(tls, tmp_path, faults)
    assert {s["scope"] for s in doc["segments"]} == {"infra", "dvportgroup"}
    assert doc["scopes_refused"] == [
        "Tier-1 gateways: not permitted for this user (HTTP 403)",
        "projects: not on this manager (HTTP 404)",
    ]
    assert "projects: not on this manager (HTTP 404); going on without it" in made.stderr


def test_refused_realized_state_leaves_the_segment_unmapped_and_scopes_can_be_limited(
    tls: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    faults = (("/realized-state/realized-entities", 403, 10),)
    m, _, doc = snapshot_of(tls, tmp_path, faults, extra='scopes = ["projects"]\n')
    (db,) = doc["segments"]
    assert (db["scope"], db["vni_method"], db["vni_unmapped"]) == (
        "project:tenant-b",
        "none",
        "refused-403",
    )
    assert (
        m.hits["/policy/api/v1/infra/segments"] == 0 and m.hits["/policy/api/v1/infra/tier-1s"] == 0
    )


def test_run_polls_every_scope_and_says_how_each_vni_was_found(
    tls: tuple[Path, Path, Path], tmp_path: Path, late_start: Path
) -> None:
    import signal
    import socket

    from tests.integration import daemon_util as du

    _, url, server = serve(tls, estate())
    udp, mport = du.free_port(socket.SOCK_DGRAM), du.free_port()
    nsx = config(tmp_path, url, tls[0], extra="poll_seconds = 60\n").read_text()
    cfg = du.udp_config(tmp_path, udp, mport, nsx)
    scraped = lambda name: du.metric(du.scrape(mport), name) or 0.0  # noqa: E731
    proc = du.start(cfg)
    try:
        du.wait_for(
            lambda: du.metrics_up(mport) and scraped("spoofwatch_nsx_ports_imported") == 7,
            what="the first pull",
        )
        assert scraped('spoofwatch_nsx_segments{vni_method="intent"}') == 2
        assert scraped('spoofwatch_nsx_segments{vni_method="realized"}') == 1
        assert scraped('spoofwatch_nsx_segments{vni_method="none"}') == 2
        du.send(du.tunnel_payloads(str(late_start)), udp)

        def unbound() -> list[tuple[str, str]]:
            lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
            found = [json.loads(line) for line in lines]
            return sorted((a["segment"], a["mac"]) for a in found if a["kind"] == "unbound-source")

        du.wait_for(lambda: len(unbound()) == 3, what="one unbound-source alert a scope")
        assert unbound() == [(f"geneve:{vni}", moved) for _, _, vni, moved, _ in CASES]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
        server.shutdown()  # type: ignore[attr-defined]


def test_a_segment_whose_vni_is_refused_is_mapped_by_the_wire(
    tls: tuple[Path, Path, Path], tmp_path: Path, late_start: Path
) -> None:
    """The user may not read realized state: the project's segment waits for its MACs, and the
    first frame of one maps it, before that frame is judged. A MAC later on another VNI is named."""
    from scapy.utils import rdpcap, wrpcap

    _, _, vni, moved, benign = CASES[2]
    stray = Capture("stray")
    stray.geneve(5099, ping(benign, GW, f"10.{vni % 100}.0.20", f"10.{vni % 100}.0.1", 9), 1, 2)
    stray.write(tmp_path)
    capture = tmp_path / "late-start-and-stray.pcap"
    wrpcap(str(capture), [*rdpcap(str(late_start)), *rdpcap(str(tmp_path / "stray.pcap"))])
    m, url, server = serve(tls, estate())
    m.fail("/realized-state/realized-entities", 403, times=10)
    try:
        got = spoofwatch("replay", str(capture), "--config", str(config(tmp_path, url, tls[0])))
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    assert got.returncode == 0, got.stderr
    unbound = sorted(
        (a["segment"], a["mac"], a["bindings"][0]["learned_by"])
        for a in alerts(got.stdout)
        if a["kind"] == "unbound-source"
    )
    assert (f"geneve:{vni}", moved, "nsx ARP_SNOOPING") in unbound and len(unbound) == 3
    db = "/orgs/default/projects/tenant-b/infra/segments/db"
    assert f"NSX segment {db} mapped to geneve:{vni} by the wire" in got.stderr
    assert f"warning: NSX segment {db} also seen on geneve:5099; kept geneve:{vni}" in got.stderr
    assert "segments by VNI: intent 2, none 3" in got.stderr
