"""Where NSX keeps segments: /infra, under each Tier-1 gateway, in each project, DVPortgroups.

Every segment found keeps its `scope` (`infra`, `tier-1:<id>`, `project:<id>`, `dvportgroup`)
and is read further by its own `path`, never by a path rebuilt from IDs. A project's segments,
profiles, groups and policies live under the project's own `infra` root. A scope the manager
does not have (404: projects before NSX 4.1) or the user may not read (403) is empty, and the
pull says so. NSX 9 VPC subnets (`.../projects/<p>/vpcs/<vpc>/subnets`) are not read: their
ports and bindings have an API of their own that spoofwatch has not been proven against, so
their VMs are judged by trust on first use, as any port NSX does not name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from detector.errors import NsxRefused
from detector.nsx.client import NsxClient

ORG = "/orgs/default"


@dataclass(slots=True)
class Found:
    """The segments of every scope read, each with its scope, and the policy roots to read
    profiles, groups and policies from (`/infra` and each project's)."""

    segments: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    roots: list[str] = field(default_factory=lambda: ["/infra"])
    refused: list[str] = field(default_factory=list)  # scopes the manager refused, and why


def objects(items: list[Any]) -> list[dict[str, Any]]:
    """The list's objects that have a path (the manager's answers are hostile until checked)."""
    return [x for x in items if isinstance(x, dict) and isinstance(x.get("path"), str)]


def find(client: NsxClient, scopes: tuple[str, ...], say: Callable[[str], None]) -> Found:
    """List the segments of the configured scopes, each once (by path)."""
    found = Found()
    seen: dict[str, str] = {}

    def listed(what: str, path: str, **params: str) -> list[dict[str, Any]]:
        try:
            return objects(client.list(path, **params))
        except NsxRefused as exc:
            why = "not on this manager" if exc.status == 404 else "not permitted for this user"
            found.refused.append(f"{what}: {why} (HTTP {exc.status})")
            say(f"{what}: {why} (HTTP {exc.status}); going on without it")
            return []

    def keep(scope: str, segments: list[dict[str, Any]]) -> None:
        for seg in segments:
            if seg["path"] not in seen:
                seen[seg["path"]] = scope
                found.segments.append((scope, seg))

    if "dvportgroups" in scopes:  # first, so that these keep their own scope
        keep(
            "dvportgroup",
            listed("DVPortgroup segments", "/infra/segments", segment_type="DVPortgroup"),
        )
    if "infra" in scopes:
        keep("infra", listed("segments", "/infra/segments"))
    if "tier-1s" in scopes:
        for t1 in listed("Tier-1 gateways", "/infra/tier-1s"):
            keep(
                f"tier-1:{t1.get('id', t1['path'])}",
                listed("Tier-1 segments", f"{t1['path']}/segments"),
            )
    if "projects" in scopes:
        for project in listed("projects", f"{ORG}/projects"):
            root = f"{project['path']}/infra"
            found.roots.append(root)
            keep(
                f"project:{project.get('id', project['path'])}",
                listed("project segments", f"{root}/segments"),
            )
    return found


def root_of(path: str) -> str:
    """The policy root an object lives under: a project's `.../infra`, else `/infra`."""
    if path.startswith(f"{ORG}/projects/"):
        head, sep, _ = path.partition("/infra/")
        return head + "/infra" if sep else "/infra"
    return "/infra"
