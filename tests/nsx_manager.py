"""A local NSX-T Policy API test server: the documented JSON shapes over TLS, with faults.

Built from the documented shapes (reference/nsx-policy-api.md), not VMware's example JSON. It
serves paged lists (cursor, result_count on the first page only), objects, basic auth (401,
403), and injected faults: 429/503 with Retry-After, 5xx, slow answers, malformed JSON.
`Estate` builds an estate of segments, ports, profiles, groups and rules.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

API = "/policy/api/v1"
MANAGER_API = "/api/v1"  # the Manager API: logical switches and their VNI
PAGING = ("cursor", "page_size")
USER, PASSWORD = "auditor", "Sup3r-secret!pw"


def make_ca(tmp: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 / localhost, made by openssl."""
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, cwd=tmp)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=spoofwatch test CA", "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=nsx-manager",
        "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    (tmp / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem")  # fmt: skip
    return tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"


@dataclass
class Fault:
    match: str  # a substring of the request path
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


class Manager:
    """The data and behaviour of the test manager; `serve` starts it on a free port."""

    def __init__(self, page_size: int = 2) -> None:
        self.lists: dict[str, list[Any]] = {}
        self.objects: dict[str, Any] = {}
        self.page_size = page_size
        self.faults: list[Fault] = []
        self.delay = 0.0
        self.hits: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def load(self, estate: Estate) -> None:
        with self.lock:
            self.lists, self.objects = estate.lists(), estate.objects()

    def fail(self, match: str, status: int, times: int = 1, **headers: str) -> None:
        self.faults.append(Fault(match, status, times, headers))

    def answer(
        self, path: str, query: dict[str, list[str]], auth: str
    ) -> tuple[int, dict[str, str], bytes]:
        if auth != "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode():
            if auth.startswith("Basic ") and base64.b64decode(auth[6:]).startswith(b"noaccess:"):
                return 403, {}, b'{"error_code": 403, "error_message": "not permitted"}'
            return 401, {}, b'{"error_code": 403, "error_message": "not authenticated"}'
        with self.lock:
            self.hits[path] += 1
            for f in self.faults:
                if f.times and f.match in path:
                    f.times -= 1
                    body = f.body if f.body is not None else b'{"error_message": "injected"}'
                    return f.status, f.headers, body
        if self.delay:
            time.sleep(self.delay)
        if path.startswith(MANAGER_API) and path in self.objects:
            return 200, {}, json.dumps(self.objects[path]).encode()
        if not path.startswith(API):
            return 404, {}, b'{"error_code": 600, "error_message": "not found"}'
        rel = path[len(API) :]
        asked = sorted((k, v[0]) for k, v in query.items() if k not in PAGING and v)
        keyed = rel + "?" + "&".join(f"{k}={v}" for k, v in asked)
        if asked and keyed in self.lists:  # a list filtered by segment_type or intent_path
            rel = keyed
        if rel in self.lists:
            items = self.lists[rel]
            start = int(query.get("cursor", ["0"])[0] or 0)
            size = int(query.get("page_size", [str(self.page_size)])[0])
            page: dict[str, Any] = {"results": items[start : start + size]}
            if start == 0:
                page["result_count"] = len(items)
            if start + size < len(items):
                page["cursor"] = str(start + size)
            return 200, {}, json.dumps(page).encode()
        if rel in self.objects:
            return 200, {}, json.dumps(self.objects[rel]).encode()
        return 404, {}, b'{"error_code": 600, "error_message": "The path is invalid"}'

    def serve(self, cert: Path, key: Path) -> ThreadingHTTPServer:
        manager = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                status, headers, body = manager.answer(
                    url.path, parse_qs(url.query), self.headers.get("Authorization", "")
                )
                with manager.lock:
                    manager.statuses[status] += 1
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def entry(
    ip: str, mac: str, source: str = "ARP_SNOOPING", ts: int = 1767225000000
) -> dict[str, Any]:
    """An AddressBindingEntry."""
    return {"binding": {"ip_address": ip, "mac_address": mac, "vlan": 0}, "source": source,
            "binding_timestamp": ts}  # fmt: skip


class Estate:
    """Segments, ports, profiles, groups and DFW rules, in the Policy API's shapes."""

    def __init__(self) -> None:
        self.ports: dict[str, list[dict[str, Any]]] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.maps: dict[str, list[dict[str, Any]]] = {}
        self.spoofguard = [{"resource_type": "SpoofGuardProfile", "id": "default-spoofguard-profile",
                            "path": "/infra/spoofguard-profiles/default-spoofguard-profile",
                            "address_binding_allowlist": False}]  # fmt: skip
        self.discovery = [{"resource_type": "IPDiscoveryProfile", "id": "default-ip-discovery-profile",
                           "path": "/infra/ip-discovery-profiles/default-ip-discovery-profile",
                           "ip_v4_discovery_options": {"arp_snooping_config": {
                               "arp_snooping_enabled": True, "arp_binding_limit": 1}},
                           "tofu_enabled": True}]  # fmt: skip
        self.groups: list[dict[str, Any]] = []
        self.members: dict[str, dict[str, list[Any]]] = {}
        self.policies: list[dict[str, Any]] = []
        self.rules: dict[str, list[dict[str, Any]]] = {}
        self.scoped: dict[str, list[dict[str, Any]]] = {"/infra": []}  # parent → its segments
        self.dvportgroups: list[dict[str, Any]] = []
        self.tier1s: list[str] = []
        self.projects: list[str] = []
        self.realized: dict[str, list[dict[str, Any]]] = {}
        self.switches: dict[str, dict[str, Any]] = {}

    @property
    def segments(self) -> list[dict[str, Any]]:
        return [s for segs in self.scoped.values() for s in segs] + self.dvportgroups

    def segment(self, sid: str, vni: int | None = None, vlan: int | None = None,
                spoofguard: str = "", discovery: str = "", tier1: str = "", project: str = "",
                dvportgroup: bool = False, realized_vni: int | None = None) -> str:  # fmt: skip
        """A segment in /infra, under a Tier-1, in a project, or DVPortgroup-backed; without
        `vni` (overlay_id) but with `realized_vni`, the realized-state and logical-switch
        endpoints answer its VNI."""
        root = f"/orgs/default/projects/{project}/infra" if project else "/infra"
        parent = f"/infra/tier-1s/{tier1}" if tier1 else root
        path = f"{parent}/segments/{sid}"
        if tier1 and tier1 not in self.tier1s:
            self.tier1s.append(tier1)
        if project and project not in self.projects:
            self.projects.append(project)
        if vni is None and vlan is None:  # an overlay segment whose VNI NSX chose: ask realized
            entities = [
                {"entity_type": "RealizedLogicalPort", "realization_specific_identifier": "lp-x"}
            ]
            if realized_vni is not None:
                switch = f"ls-{sid}-0000-1111"
                entities.append({"entity_type": "RealizedLogicalSwitch",
                                 "realization_specific_identifier": switch, "state": "REALIZED"})  # fmt: skip
                self.switches[f"{MANAGER_API}/logical-switches/{switch}"] = {
                    "id": switch,
                    "vni": realized_vni,
                }
            self.realized[f"{root}/realized-state/realized-entities?intent_path={path}"] = entities
        seg: dict[str, Any] = {
            "resource_type": "Segment",
            "id": sid,
            "path": path,
            "display_name": sid,
        }
        if vni is not None:
            seg["overlay_id"] = vni
        if vlan is not None:
            seg["vlan_ids"] = [str(vlan)]
        if dvportgroup:
            self.dvportgroups.append(seg)
        else:
            self.scoped.setdefault(parent, []).append(seg)
        self.ports[path] = []
        self._maps(path, "segment", spoofguard, discovery)
        return path

    def port(self, segment: str, pid: str, vif: str, realized: list[dict[str, Any]] = (),  # type: ignore[assignment]
             discovered: list[dict[str, Any]] = (), manual: list[dict[str, Any]] = (),  # type: ignore[assignment]
             spoofguard: str = "", discovery: str = "", duplicates: list[dict[str, Any]] = (),  # type: ignore[assignment]
             ignored: list[dict[str, Any]] = (), child_of: str = "", tag: int = 0) -> str:  # type: ignore[assignment]  # fmt: skip
        """A VM's port, or with `child_of` (the VM's VIF) a container's CHILD port whose frames
        carry VLAN `tag` on that VM's vNIC."""
        path = f"{segment}/ports/{pid}"
        attachment: dict[str, Any] = {"id": vif, "type": "PARENT"}
        if child_of:
            attachment = {"id": vif, "type": "CHILD", "context_id": child_of, "traffic_tag": tag}
        self.ports[segment].append({"resource_type": "SegmentPort", "id": pid, "path": path,
                                    "attachment": attachment,
                                    "address_bindings": list(manual),
                                    "ignored_address_bindings": list(ignored)})  # fmt: skip
        self.states[path] = {"realized_bindings": list(realized), "discovered_bindings": list(discovered),
                             "duplicate_bindings": list(duplicates), "transport_node_ids": ["tn-1"]}  # fmt: skip
        self._maps(path, "port", spoofguard, discovery)
        return path

    def profile(self, pid: str, allowlist: bool) -> str:
        path = f"/infra/spoofguard-profiles/{pid}"
        self.spoofguard.append({"resource_type": "SpoofGuardProfile", "id": pid, "path": path,
                                "address_binding_allowlist": allowlist})  # fmt: skip
        return path

    def discovery_profile(
        self, pid: str, arp_limit: int = 1, duplicate_detection: bool = False
    ) -> str:
        path = f"/infra/ip-discovery-profiles/{pid}"
        self.discovery.append({"resource_type": "IPDiscoveryProfile", "id": pid, "path": path,
                               "ip_v4_discovery_options": {"arp_snooping_config": {
                                   "arp_snooping_enabled": True, "arp_binding_limit": arp_limit}},
                               "duplicate_ip_detection": {
                                   "duplicate_ip_detection_enabled": duplicate_detection},
                               "tofu_enabled": True})  # fmt: skip
        return path

    def group(self, gid: str, expression: list[dict[str, Any]], vifs: list[str] = (),  # type: ignore[assignment]
              ports: list[str] = (), ips: list[str] = (), project: str = "") -> str:  # type: ignore[assignment]  # fmt: skip
        root = f"/orgs/default/projects/{project}/infra" if project else "/infra"
        path = f"{root}/domains/default/groups/{gid}"
        self.groups.append(
            {"resource_type": "Group", "id": gid, "path": path, "expression": expression}
        )
        self.members[path] = {
            "vifs": [{"external_id": f"ext-{v}", "lport_attachment_id": v} for v in vifs],
            "segment-ports": [{"id": p.rsplit("/", 1)[1], "path": p} for p in ports],
            "ip-addresses": list(ips),
        }
        return path

    def rule(self, policy: str, rid: str, sources: list[str], destinations: list[str],
             action: str = "DROP", disabled: bool = False, category: str = "Application",
             sources_excluded: bool = False, destinations_excluded: bool = False,
             project: str = "") -> str:  # fmt: skip
        root = f"/orgs/default/projects/{project}/infra" if project else "/infra"
        ppath = f"{root}/domains/default/security-policies/{policy}"
        if ppath not in self.rules:
            self.policies.append({"resource_type": "SecurityPolicy", "id": policy, "path": ppath,
                                  "category": category, "sequence_number": len(self.policies)})  # fmt: skip
            self.rules[ppath] = []
        path = f"{ppath}/rules/{rid}"
        self.rules[ppath].append({"resource_type": "Rule", "id": rid, "path": path, "action": action,
                                  "disabled": disabled, "source_groups": sources,
                                  "destination_groups": destinations, "services": ["ANY"],
                                  "sources_excluded": sources_excluded,
                                  "destinations_excluded": destinations_excluded,
                                  "scope": ["ANY"], "sequence_number": len(self.rules[ppath])})  # fmt: skip
        return path

    def _maps(self, path: str, level: str, spoofguard: str, discovery: str) -> None:
        sec = [{"resource_type": f"{level.title()}SecurityProfileBindingMap", "id": "default",
                "path": f"{path}/{level}-security-profile-binding-maps/default",
                "spoofguard_profile_path": spoofguard}] if spoofguard else []  # fmt: skip
        disc = [{"resource_type": f"{level.title()}DiscoveryProfileBindingMap", "id": "default",
                 "ip_discovery_profile_path": discovery}] if discovery else []  # fmt: skip
        self.maps[f"{path}/{level}-security-profile-binding-maps"] = sec
        self.maps[f"{path}/{level}-discovery-profile-binding-maps"] = disc

    def lists(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {**self.maps, **self.realized,
                                     "/infra/segments?segment_type=DVPortgroup": self.dvportgroups,
                                     "/infra/tier-1s": [{"resource_type": "Tier1", "id": t, "path": f"/infra/tier-1s/{t}"}
                                                        for t in self.tier1s],
                                     "/orgs/default/projects": [{"resource_type": "Project", "id": p,
                                                                 "path": f"/orgs/default/projects/{p}"}
                                                                for p in self.projects],
                                     "/infra/spoofguard-profiles": self.spoofguard,
                                     "/infra/ip-discovery-profiles": self.discovery}  # fmt: skip
        for kind, objects in (("groups", self.groups), ("security-policies", self.policies)):
            for obj in objects:  # each under its own root: /infra, or its project's
                root = obj["path"].partition("/domains/")[0]
                out.setdefault(f"{root}/domains/default/{kind}", []).append(obj)
            out.setdefault(f"/infra/domains/default/{kind}", [])
        for parent, segs in self.scoped.items():
            out[f"{parent}/segments"] = segs
        for project in self.projects:
            root = f"/orgs/default/projects/{project}/infra"
            for kind in ("spoofguard-profiles", "ip-discovery-profiles", "domains/default/groups",
                         "domains/default/security-policies"):  # fmt: skip
                out.setdefault(f"{root}/{kind}", [])
        for spath, ports in self.ports.items():
            out[f"{spath}/ports"] = ports
        for ppath, rules in self.rules.items():
            out[f"{ppath}/rules"] = rules
        for gpath, m in self.members.items():
            for kind, items in m.items():
                out[f"{gpath}/members/{kind}"] = items
        return out

    def objects(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"{p}/state": s for p, s in self.states.items()}
        out.update(self.switches)
        for ports in self.ports.values():
            out.update({p["path"]: p for p in ports})
        return out


def pulled(estate: Estate, **settings: Any) -> dict[str, Any]:
    """The estate pulled by the real client and `pull`, over an in-process transport (no TLS, no
    sockets): the snapshot `spoofwatch nsx snapshot` would write."""
    import httpx

    from detector.config.nsx import NsxConfig
    from detector.nsx import pull
    from detector.nsx.client import NsxClient

    manager = Manager(page_size=100)
    manager.load(estate)
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def answer(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        status, headers, body = manager.answer(request.url.path, query, auth)
        return httpx.Response(status, headers=headers, content=body)

    cfg = NsxConfig(url="https://nsx.test", max_requests_per_second=1e6, **settings)
    client = NsxClient(cfg)
    client.http.close()
    client.http = httpx.Client(transport=httpx.MockTransport(answer))
    try:
        return pull.pull(client)
    finally:
        client.close()
