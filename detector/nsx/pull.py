"""Pull a snapshot from the Policy API with the plain per-object endpoints, in parallel.

Requests: the segments of every scope (`nsx/scopes.py`: /infra, the Tier-1 list and each
Tier-1's segments, the project list and each project's segments, the DVPortgroup segments),
then per segment its ports, its two binding-map lists and, without `overlay_id`, two more for
its realized VNI (`nsx/vni.py`); per port its `/state` and its two binding-map lists; then, for
/infra and each project, the two profile lists, the groups and security policies of the domain,
each policy's rules, and the realized members (VIFs, segment ports, IP addresses) of every group
an enabled rule names. N ports in S segments under T Tier-1s and J projects cost about
4 + T + J + 3·S + 3·N + 4·(1 + J) + P + 3·G requests (P policies, G groups in use).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from detector.config.nsx import NsxConfig
from detector.errors import NsxError
from detector.nsx import scopes, snapshot, vni
from detector.nsx.client import NsxClient
from detector.nsx.realized import strings

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str], None]

SEGMENT_KEYS = ("path", "id", "display_name", "overlay_id", "vlan_ids", "tags", "type")
PORT_KEYS = (
    "path",
    "id",
    "display_name",
    "attachment",
    "address_bindings",
    "ignored_address_bindings",
    "tags",
)
STATE_KEYS = ("realized_bindings", "discovered_bindings", "duplicate_bindings")
MAP_KEYS = ("path", "spoofguard_profile_path", "ip_discovery_profile_path")
GROUP_KEYS = ("path", "id", "display_name", "expression")
POLICY_KEYS = ("path", "id", "display_name", "category", "sequence_number", "scope")
RULE_KEYS = (
    "path",
    "id",
    "display_name",
    "action",
    "disabled",
    "source_groups",
    "destination_groups",
    "sources_excluded",
    "destinations_excluded",
    "sequence_number",
    "scope",
)
VIF_KEYS = ("external_id", "lport_attachment_id", "owner_vm_id", "mac_address")


def _keep(obj: Any, keys: Iterable[str]) -> dict[str, Any]:
    return {k: obj[k] for k in keys if isinstance(obj, dict) and k in obj}


def _parallel(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: list[T]) -> list[R]:
    return list(pool.map(fn, items))


def pull(client: NsxClient, progress: Progress | None = None) -> dict[str, Any]:
    """Everything spoofwatch reads from the manager, as a snapshot document."""
    cfg = client.cfg
    say = progress or (lambda _: None)
    started, before, waited = time.monotonic(), client.requests.copy(), client.waited
    wanted = set(cfg.segments)
    found = scopes.find(client, cfg.scopes, say)
    segments = [
        (scope, s)
        for scope, s in found.segments
        if not wanted or s.get("id") in wanted or s.get("path") in wanted
    ]
    by_scope = Counter(scope.partition(":")[0] for scope, _ in segments)
    say(f"{len(segments)} segments ({', '.join(f'{k} {n}' for k, n in sorted(by_scope.items()))})")
    with ThreadPoolExecutor(cfg.max_concurrency) as pool:

        def maps(path: str, kind: str) -> list[dict[str, Any]]:
            return [_keep(m, MAP_KEYS) for m in client.list(f"{path}/{kind}")]

        def one_port(port: dict[str, Any]) -> dict[str, Any]:
            path = port["path"]
            state = client.get(f"{path}/state", enforcement_point_path=cfg.enforcement_point)
            out = _keep(port, PORT_KEYS)
            out["state"] = _keep(state, STATE_KEYS)
            out["security_maps"] = maps(path, "port-security-profile-binding-maps")
            out["discovery_maps"] = maps(path, "port-discovery-profile-binding-maps")
            return out

        def one_segment(scoped: tuple[str, dict[str, Any]]) -> dict[str, Any]:
            scope, seg = scoped
            path = seg["path"]
            out = _keep(seg, SEGMENT_KEYS)
            out["scope"] = scope
            out.update(vni.resolve(client, seg))
            out["security_maps"] = maps(path, "segment-security-profile-binding-maps")
            out["discovery_maps"] = maps(path, "segment-discovery-profile-binding-maps")
            out["ports"] = scopes.objects(client.list(f"{path}/ports"))
            return out

        segs = _parallel(pool, one_segment, segments)
        count = sum(len(s["ports"]) for s in segs)
        say(f"{count} ports: reading their realized state")
        for seg in segs:
            seg["ports"] = _parallel(pool, one_port, seg["ports"])
        domains = [f"{root}/domains/{cfg.domain}" for root in found.roots]
        policies = [
            _keep(p, POLICY_KEYS)
            for domain in domains
            for p in scopes.objects(client.list(f"{domain}/security-policies"))
        ]

        def rules(policy: dict[str, Any]) -> dict[str, Any]:
            found = scopes.objects(client.list(f"{policy['path']}/rules"))
            policy["rules"] = [_keep(r, RULE_KEYS) for r in found]
            return policy

        policies = _parallel(pool, rules, policies)
        groups = [
            _keep(g, GROUP_KEYS)
            for domain in domains
            for g in scopes.objects(client.list(f"{domain}/groups"))
        ]
        used = {
            g
            for p in policies
            for r in p["rules"]
            if r.get("disabled") is not True
            for g in strings(r.get("source_groups")) + strings(r.get("destination_groups"))
            if g.startswith("/")
        }

        def members(group: dict[str, Any]) -> dict[str, Any]:
            if group.get("path") in used:
                base, ep = f"{group['path']}/members", cfg.enforcement_point
                group["members"] = {
                    "vifs": [
                        _keep(v, VIF_KEYS)
                        for v in client.list(f"{base}/vifs", enforcement_point_path=ep)
                    ],
                    "segment_ports": [
                        m["path"]
                        for m in scopes.objects(
                            client.list(f"{base}/segment-ports", enforcement_point_path=ep)
                        )
                    ],
                    "ip_addresses": strings(
                        client.list(f"{base}/ip-addresses", enforcement_point_path=ep)
                    ),
                }
            return group

        say(f"{len(policies)} policies, {len(groups)} groups ({len(used)} in use)")
        groups = _parallel(pool, members, groups)
        profiles = [
            p
            for root in found.roots
            for p in scopes.objects(client.list(f"{root}/spoofguard-profiles"))
        ]
        discovery = [
            p
            for root in found.roots
            for p in scopes.objects(client.list(f"{root}/ip-discovery-profiles"))
        ]
    doc = {
        "format": snapshot.FORMAT,
        "version": snapshot.VERSION,
        "manager": client.url,
        "pulled_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "enforcement_point": cfg.enforcement_point,
        "domain": cfg.domain,
        "segments": segs,
        "scopes": list(cfg.scopes),
        "scopes_refused": found.refused,
        "spoofguard_profiles": profiles,
        "ip_discovery_profiles": discovery,
        "groups": groups,
        "policies": policies,
        "cost": {
            "requests": dict(sorted((client.requests - before).items())),
            "seconds": round(time.monotonic() - started, 3),
            "waited_seconds": round(client.waited - waited, 3),
        },
    }
    try:
        return dict(snapshot.printable(doc))
    except RecursionError as exc:
        raise NsxError(f"NSX manager {client.url}: an answer nested too deeply") from exc


def fetch(cfg: NsxConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Open a client, pull once, close it."""
    client = NsxClient(cfg)
    try:
        return pull(client, progress)
    finally:
        client.close()
