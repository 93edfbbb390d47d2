"""The [nsx] section: how to reach the NSX-T manager whose realized bindings the table imports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detector.config import checks as v
from detector.errors import ConfigError

# Where NSX keeps segments: /infra, under each Tier-1 gateway, in each project (NSX 4.1+), and
# DVPortgroup-backed segments (listed with segment_type=DVPortgroup).
SCOPES = ("infra", "tier-1s", "projects", "dvportgroups")


@dataclass(frozen=True, slots=True)
class NsxConfig:
    """The [nsx] section: where the manager is and how to read it."""

    url: str = ""
    username: str = ""
    password_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    ca_file: str = ""
    verify_tls: bool = True
    poll_seconds: int = 300
    timeout_seconds: float = 10.0
    max_requests_per_second: float = 50.0
    max_concurrency: int = 8
    enforcement_point: str = "/infra/sites/default/enforcement-points/default"
    domain: str = "default"
    segments: tuple[str, ...] = ()
    scopes: tuple[str, ...] = SCOPES  # where segments are listed from (all by default)


CHECKS: dict[str, v.Check] = {
    "url": v.https_url,
    "username": v.string,
    "password_file": v.string,
    "client_cert": v.string,
    "client_key": v.string,
    "ca_file": v.string,
    "verify_tls": v.boolean,
    "poll_seconds": v.integer(1, 86400),
    "timeout_seconds": v.integer(1, 600),
    "max_requests_per_second": v.integer(1, 1000),
    "max_concurrency": v.integer(1, 64),
    "enforcement_point": v.string,
    "domain": v.string,
    "segments": v.strings,
    "scopes": v.subset(*SCOPES),
}


def _relative(value: str, base: Path | None) -> str:
    if value and base is not None and not Path(value).is_absolute():
        return str(base / value)
    return value


def parse(n: dict[str, Any], base: Path | None) -> NsxConfig:
    if not n.get("url"):
        raise ConfigError("nsx.url: the manager's address (https://manager) is required")
    if not n.get("username") and not n.get("client_cert"):
        raise ConfigError("nsx: give nsx.username (with nsx.password_file) or nsx.client_cert")
    if bool(n.get("client_cert")) != bool(n.get("client_key")):
        raise ConfigError("nsx: client_cert and client_key go together")

    def path(key: str) -> str:
        return _relative(str(n.get(key, "")), base)

    d = NsxConfig()
    return NsxConfig(
        url=n["url"],
        username=n.get("username", ""),
        password_file=path("password_file"),
        client_cert=path("client_cert"),
        client_key=path("client_key"),
        ca_file=path("ca_file"),
        verify_tls=n.get("verify_tls", True),
        poll_seconds=n.get("poll_seconds", d.poll_seconds),
        timeout_seconds=n.get("timeout_seconds", d.timeout_seconds),
        max_requests_per_second=n.get("max_requests_per_second", d.max_requests_per_second),
        max_concurrency=n.get("max_concurrency", d.max_concurrency),
        enforcement_point=n.get("enforcement_point", d.enforcement_point),
        domain=n.get("domain", d.domain),
        segments=n.get("segments", ()),
        scopes=n.get("scopes", d.scopes),
    )
