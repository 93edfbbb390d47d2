"""spoofwatch against NSX: a local Policy API server over TLS, snapshots, replay, audit, drift."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PCAPS, ROOT, validate_alerts
from tests.nsx_manager import PASSWORD, USER, Estate, Manager, entry, make_ca

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
VM1, VM2 = "00:50:56:a1:00:01", "00:50:56:a1:00:02"


def spoofwatch(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "detector", *args], capture_output=True, text=True, cwd=cwd
    )


def seed_estate() -> Estate:
    """NSX as it stands after the seed story's first packets: vm1 realized 10.1.1.10 by ARP."""
    e = Estate()
    web = e.segment("web", vni=5001)
    e.port(web, "vm1-port", "vif-vm1", realized=[entry("10.1.1.10", "00-50-56-A1-00-01")])
    e.port(web, "vm2-port", "vif-vm2", realized=[entry("10.1.1.20", VM2)])
    return e


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def manager(tls: tuple[Path, Path, Path]) -> Iterator[tuple[Manager, str]]:
    m = Manager()
    m.load(seed_estate())
    server = m.serve(tls[1], tls[2])
    yield m, f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def config(tmp: Path, url: str, ca: Path, user: str = USER, extra: str = "") -> Path:
    (tmp / "nsx-password").write_text(PASSWORD + "\n")
    path = tmp / "nsx.toml"
    path.write_text(
        f'[nsx]\nurl = "{url}"\nusername = "{user}"\npassword_file = "nsx-password"\n'
        f'ca_file = "{ca}"\ntimeout_seconds = 2\n{extra}'
    )
    return path


@pytest.fixture(scope="module")
def late_start(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed story without its first 8 packets: the collector starts after the change."""
    from scapy.utils import rdpcap, wrpcap

    path = tmp_path_factory.mktemp("cap") / "late-start.pcap"
    wrpcap(str(path), rdpcap(str(PCAPS / "geneve-ip-change.pcap"))[8:])
    return path


def alerts(out: str) -> list[dict]:  # type: ignore[type-arg]
    lines = [line for line in out.splitlines() if line.strip()]
    validate_alerts(lines)
    return [json.loads(line) for line in lines]


def test_late_start_without_nsx_trusts_the_new_address(late_start: Path) -> None:
    got = spoofwatch("replay", str(late_start), "--quiet")
    assert got.returncode == 0, got.stderr
    assert [a for a in alerts(got.stdout) if a["kind"] == "unbound-source"] == []


def test_late_start_against_a_snapshot_and_against_the_manager(
    manager: tuple[Manager, str], tls: tuple[Path, Path, Path], late_start: Path, tmp_path: Path
) -> None:
    cfg = config(tmp_path, manager[1], tls[0])
    snap = tmp_path / "nsx.json"
    made = spoofwatch("nsx", "snapshot", "--config", str(cfg), "--out", str(snap))
    assert made.returncode == 0, made.stderr
    assert PASSWORD not in snap.read_text() and PASSWORD not in made.stderr
    for how in (["--nsx-snapshot", str(snap)], ["--config", str(cfg)]):
        got = spoofwatch("replay", str(late_start), "--quiet", *how)
        assert got.returncode == 0, got.stderr
        found = alerts(got.stdout)
        unbound = [a for a in found if a["kind"] == "unbound-source"]
        assert [(a["mac"], a["src_ip"]) for a in unbound] == [(VM1, "10.1.1.11")]
        assert {a["kind"] for a in found} == {"unbound-source", "binding-limit"}
        (bound,) = unbound[0]["bindings"]
        assert bound["address"] == "10.1.1.10" and bound["learned_by"] == "nsx ARP_SNOOPING"
        assert bound["learned_at"] == "2025-12-31T23:50:00.000000Z"
        assert "learned by nsx ARP_SNOOPING" in unbound[0]["message"]


def test_tenants_reusing_addresses_never_mix(tls: tuple[Path, Path, Path], tmp_path: Path) -> None:
    decoded = spoofwatch("decode", str(PCAPS / "geneve-tenant-overlap.pcap"))
    frames = [json.loads(line) for line in decoded.stdout.splitlines()]
    seen = {(f["vni"], f["src_mac"], f["src_ip"]) for f in frames if f["src_ip"]}
    e = Estate()
    for vni in sorted({v for v, _, _ in seen}):
        seg = e.segment(f"tenant-{vni}", vni=vni)
        for i, (_, mac, ip) in enumerate(sorted(s for s in seen if s[0] == vni)):
            e.port(seg, f"p{i}", f"vif-{vni}-{i}", realized=[entry(ip, mac.upper())])
    m = Manager()
    m.load(e)
    server = m.serve(tls[1], tls[2])
    try:
        cfg = config(tmp_path, f"https://127.0.0.1:{server.server_address[1]}", tls[0])
        got = spoofwatch("replay", str(PCAPS / "geneve-tenant-overlap.pcap"), "--config", str(cfg))
    finally:
        server.shutdown()
    assert got.returncode == 0, got.stderr
    assert alerts(got.stdout) == []
    assert f"{len(seen)} ports, {len(seen)} realized bindings imported" in got.stderr


def test_busy_manager_is_waited_for_and_lists_are_paged(
    manager: tuple[Manager, str], tls: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    m, url = manager
    m.fail("/ports/vm1-port/state", 429, times=2, **{"Retry-After": "1"})
    m.fail("/infra/segments/web/ports", 503, times=1, **{"Retry-After": "0"})
    snap = tmp_path / "s.json"
    got = spoofwatch(
        "nsx", "snapshot", "--config", str(config(tmp_path, url, tls[0])), "--out", str(snap)
    )
    assert got.returncode == 0, got.stderr
    doc = json.loads(snap.read_text())
    assert doc["cost"]["requests"]["429"] == 2 and doc["cost"]["requests"]["503"] == 1
    assert doc["cost"]["waited_seconds"] >= 2.0
    assert [p["id"] for p in doc["segments"][0]["ports"]] == ["vm1-port", "vm2-port"]
    assert doc["manager"] == url and "password" not in json.dumps(doc).lower()


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("bad-password", "HTTP 401"),
        ("no-role", "HTTP 403"),
        ("server-error", "HTTP 500"),
        ("slow", "no answer within 2 s"),
        ("not-json", "not JSON"),
        ("unreachable", "GET /policy/api/v1/infra/segments"),
    ],
)
def test_manager_failures_are_one_line_and_exit_1(
    manager: tuple[Manager, str],
    tls: tuple[Path, Path, Path],
    tmp_path: Path,
    fault: str,
    words: str,
) -> None:
    m, url = manager
    user = {"bad-password": "nobody", "no-role": "noaccess"}.get(fault, USER)
    if fault == "server-error":
        m.fail("/infra/segments", 500, times=99)
    elif fault == "slow":
        m.delay = 3.0
    elif fault == "not-json":
        m.faults.append(
            __import__("tests.nsx_manager").nsx_manager.Fault(
                "/infra/segments", 200, 9, {}, b"{oops"
            )
        )
    elif fault == "unreachable":
        url = "https://127.0.0.1:9"
    cfg = config(tmp_path, url, tls[0], user=user)
    for argv in (["nsx", "snapshot", "--config", str(cfg), "--out", str(tmp_path / "o.json")],
                 ["replay", str(PCAPS / "geneve-ip-change.pcap"), "--config", str(cfg)]):  # fmt: skip
        got = spoofwatch(*argv)
        assert got.returncode == 1, got.stderr
        (line,) = [x for x in got.stderr.splitlines() if "error" in x]
        assert url in line and words in line and PASSWORD not in got.stderr
        assert "Traceback" not in got.stderr


def test_corrupt_or_foreign_snapshot_is_exit_2(tmp_path: Path) -> None:
    cases = {"corrupt.json": '{"format": "spoofwatch-nsx-snap', "foreign.json": '{"results": []}',
             "future.json": '{"format": "spoofwatch-nsx-snapshot", "version": 99}'}  # fmt: skip
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        got = spoofwatch(
            "replay", str(PCAPS / "geneve-ip-change.pcap"), "--nsx-snapshot", str(tmp_path / name)
        )
        assert got.returncode == 2 and len(got.stderr.strip().splitlines()) == 1, got.stderr
        assert name in got.stderr and "Traceback" not in got.stderr


def audit_estate(protected_everywhere: bool) -> Estate:
    """Segments and ports under different profiles; groups by tag, by segment and by IP."""
    e = Estate()
    on = e.profile("spoofguard-on", True)
    off = e.profile("spoofguard-off", False)
    seg_default = "" if not protected_everywhere else on
    web = e.segment("web", vni=5001, spoofguard=seg_default)
    db = e.segment("db", vni=5002, spoofguard=on)
    mgmt = e.segment("mgmt", vlan=100, spoofguard=seg_default)
    w1 = e.port(web, "w1", "vif-w1", realized=[entry("10.1.1.10", VM1)])
    w2 = e.port(web, "w2", "vif-w2", realized=[entry("10.1.1.20", VM2)],
                spoofguard=on if protected_everywhere else "")  # fmt: skip
    d1 = e.port(db, "d1", "vif-d1", realized=[entry("10.2.2.10", "00:50:56:b2:00:01")])
    d2 = e.port(db, "d2", "vif-d2", realized=[entry("10.2.2.20", "00:50:56:b2:00:02")],
                spoofguard=on if protected_everywhere else off)  # fmt: skip
    m1 = e.port(mgmt, "m1", "vif-m1", manual=[{"ip_address": "192.168.100.5",
                "mac_address": "00:50:56:c3:00:01", "vlan_id": 100}])  # fmt: skip
    tag = [{"resource_type": "Condition", "member_type": "VirtualMachine", "key": "Tag",
            "operator": "EQUALS", "value": "app|web"}]  # fmt: skip
    web_vms = e.group("web-vms", tag, vifs=["vif-w1", "vif-w2"])
    db_seg = e.group("db-segment", [{"resource_type": "PathExpression", "paths": [db]}],
                     ports=[d1, d2])  # fmt: skip
    admins = e.group("admin-ips", [{"resource_type": "IPAddressExpression",
                     "ip_addresses": ["192.168.100.0/24"]}], ips=["192.168.100.0/24"])  # fmt: skip
    e.rule("app", "web-to-db", [web_vms], [db_seg], action="ALLOW")
    e.rule("app", "drop-admins", [admins], ["ANY"])
    e.rule("app", "old-rule", [web_vms], ["ANY"], disabled=True)
    e.rule("infra", "any-any", ["ANY"], ["ANY"], category="Infrastructure")
    e.rule("infra", "literal", ["10.2.2.20"], ["ANY"], category="Infrastructure")
    assert {w1, w2, m1}  # every port is named by some group or literal
    return e


@pytest.mark.parametrize("protected", [False, True])
def test_audit_names_exactly_the_bypassable_rules(
    tls: tuple[Path, Path, Path], tmp_path: Path, protected: bool
) -> None:
    m = Manager()
    m.load(audit_estate(protected))
    server = m.serve(tls[1], tls[2])
    try:
        cfg = config(tmp_path, f"https://127.0.0.1:{server.server_address[1]}", tls[0])
        got = spoofwatch("nsx", "audit", "--config", str(cfg), "--format", "json")
        table = spoofwatch("nsx", "audit", "--config", str(cfg))
    finally:
        server.shutdown()
    doc = json.loads(got.stdout)
    rules = {r["path"].rsplit("/", 1)[1]: r for r in doc["bypassable_rules"]}
    if protected:
        assert (got.returncode, table.returncode, rules) == (0, 0, {}), got.stderr
        assert doc["summary"]["unprotected_ports"] == 0
        return
    assert (got.returncode, table.returncode) == (3, 3), got.stderr
    segs = "/infra/segments"
    assert {k: r["exposed_ports"] for k, r in rules.items()} == {
        "literal": [f"{segs}/db/ports/d2"],
        "web-to-db": [f"{segs}/db/ports/d2", f"{segs}/web/ports/w1", f"{segs}/web/ports/w2"],
        "drop-admins": [f"{segs}/mgmt/ports/m1"],
    }
    assert rules["web-to-db"]["action"] == "ALLOW"
    assert rules["web-to-db"]["policy"] == "/infra/domains/default/security-policies/app"
    assert list(rules) == ["literal", "web-to-db", "drop-admins"]  # Infrastructure first
    ports = {p["path"].rsplit("/", 1)[1]: p for p in doc["ports"]}
    assert (ports["d1"]["spoofguard"], ports["d1"]["spoofguard_from"]) == (True, "segment")
    assert (ports["d2"]["spoofguard_profile"], ports["d2"]["spoofguard_from"]) == (
        "/infra/spoofguard-profiles/spoofguard-off",
        "port",
    )
    assert ports["w1"]["spoofguard_profile"].endswith("default-spoofguard-profile")
    assert ports["m1"]["segment"] == "vlan:100"
    assert "3 bypassable by an IP change" in table.stdout


def test_drift_between_the_wire_and_nsx(
    manager: tuple[Manager, str], tls: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cfg = config(tmp_path, manager[1], tls[0])
    got = spoofwatch(
        "nsx",
        "drift",
        str(PCAPS / "geneve-ip-change.pcap"),
        "--config",
        str(cfg),
        "--format",
        "csv",
    )
    assert got.returncode == 0, got.stderr
    rows = [line.split(",")[:4] for line in got.stdout.splitlines()[1:]]
    assert rows == [["unrealized-source", "geneve:5001", VM1, "10.1.1.11"]]


def test_run_follows_nsx_between_polls_survives_its_loss_and_restores_on_restart(
    tls: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    import signal

    from tests.integration import daemon_util as du

    m = Manager()
    m.load(seed_estate())
    server = m.serve(tls[1], tls[2])
    url = f"https://127.0.0.1:{server.server_address[1]}"
    udp, mport = du.free_port(__import__("socket").SOCK_DGRAM), du.free_port()
    nsx = config(tmp_path, url, tls[0], extra="poll_seconds = 1\n").read_text()
    cfg = du.udp_config(tmp_path, udp, mport, nsx)
    late = du.tunnel_payloads("geneve-ip-change.pcap")[8:]
    scraped = lambda name: du.metric(du.scrape(mport), name) or 0.0  # noqa: E731

    def unbound() -> list[dict]:  # type: ignore[type-arg]
        lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
        return [a for a in map(json.loads, lines) if a["kind"] == "unbound-source"]

    proc = du.start(cfg)
    try:
        du.wait_for(
            lambda: du.metrics_up(mport) and scraped("spoofwatch_nsx_ports_imported") == 2,
            what="first pull",
        )
        assert scraped("spoofwatch_nsx_unprotected_ports") == 2
        du.send(late, udp)
        du.wait_for(lambda: len(unbound()) == 1, what="the unbound-source alert")
        assert unbound()[0]["src_ip"] == "10.1.1.11"
        before = scraped("spoofwatch_unbound_source_packets_total")
        # NSX now realizes 10.1.1.11 for vm1 (an operator added it): the table follows
        moved = Estate()
        web = moved.segment("web", vni=5001)
        moved.port(web, "vm1-port", "vif-vm1", realized=[entry("10.1.1.10", VM1)],
                   manual=[{"ip_address": "10.1.1.11", "mac_address": VM1}])  # fmt: skip
        moved.port(web, "vm2-port", "vif-vm2", realized=[entry("10.1.1.20", VM2)])
        pulls = scraped("spoofwatch_nsx_last_success_timestamp_seconds")
        m.load(moved)
        du.wait_for(
            lambda: scraped("spoofwatch_nsx_last_success_timestamp_seconds") > pulls + 0.5,
            what="second pull",
        )
        seen = scraped("spoofwatch_frames_inspected_total")
        du.send(late, udp)
        du.wait_for(
            lambda: scraped("spoofwatch_frames_inspected_total") >= seen + len(late), what="resend"
        )
        assert scraped("spoofwatch_unbound_source_packets_total") == before
        # the manager goes away: judging goes on, failures count, the last success stays put
        server.shutdown()
        server.server_close()
        last = scraped("spoofwatch_nsx_last_success_timestamp_seconds")
        du.wait_for(lambda: scraped("spoofwatch_nsx_pull_failures_total") >= 2, what="failed pulls")
        assert scraped("spoofwatch_nsx_last_success_timestamp_seconds") == last
        assert 'spoofwatch_nsx_requests_total{status="error"}' in du.scrape(mport)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        # restart without the manager: the snapshot comes back from the state file
        proc = du.start(cfg)
        du.wait_for(
            lambda: du.metrics_up(mport) and scraped("spoofwatch_nsx_ports_imported") == 2,
            what="restore",
        )
        assert scraped("spoofwatch_nsx_last_success_timestamp_seconds") == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert PASSWORD not in out
    assert (
        "restored the NSX snapshot" in out
        and "NSX pull failed, keeping the last good snapshot" in out
    )


def test_list_items_without_a_path_are_skipped_not_fatal(
    manager: tuple[Manager, str], tls: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    m, url = manager
    m.lists["/infra/segments"] = [*m.lists["/infra/segments"], "junk", {"id": "no-path"}]
    m.lists["/infra/segments/web/ports"] = [*m.lists["/infra/segments/web/ports"], 42]
    snap = tmp_path / "s.json"
    got = spoofwatch(
        "nsx", "snapshot", "--config", str(config(tmp_path, url, tls[0])), "--out", str(snap)
    )
    assert got.returncode == 0, got.stderr
    doc = json.loads(snap.read_text())
    assert [s["id"] for s in doc["segments"]] == ["web"]
    assert [p["id"] for p in doc["segments"][0]["ports"]] == ["vm1-port", "vm2-port"]
