"""Configuration: one TOML file → frozen dataclasses, validated before any file or socket opens.

Unknown keys and bad values are errors that name the key (`bindings.arp_binding_limit: …`).
`pipelines/replay.toml` documents every key with its default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.bindings.learn import DEFAULT_GATEWAY_MACS, MacPattern, TrustPolicy
from detector.bindings.manual import normalize_mac
from detector.bindings.table import BindingPolicy
from detector.decoders import DecodeConfig
from detector.detectors import PLUGINS
from detector.detectors.engine import EngineConfig
from detector.errors import ConfigError
from detector.model import PortKey

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a run needs, validated."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    policy: BindingPolicy = field(default_factory=BindingPolicy)
    trust: TrustPolicy = field(default_factory=TrustPolicy)
    engine: EngineConfig = field(default_factory=EngineConfig)
    bindings_file: str | None = None
    alerts_path: str = "-"


def _port(v: int) -> bool:
    return 0 < v < 65536


def _ports(name: str, v: Any) -> frozenset[int]:
    if not isinstance(v, list) or not all(isinstance(p, int) and _port(p) for p in v):
        raise ConfigError(f"{name}: expected a list of UDP ports (1-65535), got {v!r}")
    return frozenset(v)


def _int(name: str, v: Any, lo: int, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConfigError(f"{name}: expected an integer from {lo} to {hi}, got {v!r}")
    return v


def _bool(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{name}: expected true or false, got {v!r}")
    return v


def _str(name: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ConfigError(f"{name}: expected a string, got {v!r}")
    return v


def _macs(name: str, v: Any) -> tuple[MacPattern, ...]:
    if not isinstance(v, list):
        raise ConfigError(f"{name}: expected a list of MACs or MAC prefixes, got {v!r}")
    try:
        return tuple(MacPattern.parse(str(m)) for m in v)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def _servers(name: str, v: Any) -> frozenset[PortKey]:
    if not isinstance(v, list):
        raise ConfigError(f"{name}: expected a list of {{segment = ..., mac = ...}} tables")
    out = set()
    for i, item in enumerate(v):
        if not isinstance(item, dict) or set(item) != {"segment", "mac"}:
            raise ConfigError(f'{name}[{i}]: expected {{segment = "geneve:5001", mac = "..."}}')
        try:
            out.add(
                PortKey(_str(f"{name}[{i}].segment", item["segment"]), normalize_mac(item["mac"]))
            )
        except ValueError as exc:
            raise ConfigError(f"{name}[{i}].mac: {exc}") from exc
    return frozenset(out)


def _detectors(name: str, v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(d, str) for d in v):
        raise ConfigError(f"{name}: expected a list of detector names")
    unknown = [d for d in v if d not in PLUGINS]
    if unknown:
        raise ConfigError(f"{name}: unknown detector {unknown[0]!r}; known: {', '.join(PLUGINS)}")
    return tuple(v)


Check = Callable[[str, Any], Any]
SECTIONS: dict[str, dict[str, Check]] = {
    "decode": {
        "geneve_ports": _ports,
        "vxlan_ports": _ports,
        "vxlan_gpe_ports": _ports,
        "max_tunnel_depth": lambda n, v: _int(n, v, 1, 8),
    },
    "segments": {
        "inspect_untunnelled": _bool,
        "scope_by_mirror_session": _bool,
    },
    "bindings": {
        "arp_binding_limit": lambda n, v: _int(n, v, 1, 256),
        "nd_binding_limit": lambda n, v: _int(n, v, 2, 15),
        "trust_on_first_use": _bool,
        "binding_timeout_seconds": lambda n, v: _int(n, v, 300, 7200),
        "max_ports": lambda n, v: _int(n, v, 1, 100_000_000),
        "max_discovered_per_port": lambda n, v: _int(n, v, 0, 4096),
        "file": _str,
        "gateway_macs": _macs,
        "dhcp_servers": _servers,
    },
    "detectors": {
        "enabled": _detectors,
        "strict": _bool,
        "realert_seconds": lambda n, v: _int(n, v, 0, 30 * 86400),
        "max_alert_keys": lambda n, v: _int(n, v, 1, 100_000_000),
    },
    "alerts": {"path": _str},
}


def parse(doc: dict[str, Any], base: Path | None = None) -> Config:
    """Validate a parsed TOML document and build the Config."""
    v: dict[str, dict[str, Any]] = {}
    for section, table in doc.items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown section [{section}]; known: {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{section}: expected a table [{section}]")
        checks = SECTIONS[section]
        v[section] = {}
        for key, value in table.items():
            if key not in checks:
                raise ConfigError(f"unknown key {section}.{key}; known: {', '.join(checks)}")
            v[section][key] = checks[key](f"{section}.{key}", value)
    dec, seg = v.get("decode", {}), v.get("segments", {})
    bnd, det = v.get("bindings", {}), v.get("detectors", {})
    defaults = DecodeConfig()
    decode = DecodeConfig(
        geneve_ports=dec.get("geneve_ports", defaults.geneve_ports),
        vxlan_ports=dec.get("vxlan_ports", defaults.vxlan_ports),
        vxlan_gpe_ports=dec.get("vxlan_gpe_ports", defaults.vxlan_gpe_ports),
        max_depth=dec.get("max_tunnel_depth", defaults.max_depth),
    )
    clash = (decode.geneve_ports & decode.vxlan_ports) | (
        (decode.geneve_ports | decode.vxlan_ports) & decode.vxlan_gpe_ports
    )
    if clash:
        raise ConfigError(f"decode: port {min(clash)} is given to two tunnel types")
    policy = BindingPolicy(
        arp_binding_limit=bnd.get("arp_binding_limit", 1),
        nd_binding_limit=bnd.get("nd_binding_limit", 3),
        trust_on_first_use=bnd.get("trust_on_first_use", True),
        binding_timeout_ns=bnd.get("binding_timeout_seconds", 600) * NS,
        max_ports=bnd.get("max_ports", 1_000_000),
        max_discovered_per_port=bnd.get("max_discovered_per_port", 16),
    )
    trust = TrustPolicy(
        gateway_macs=bnd.get("gateway_macs", tuple(map(MacPattern.parse, DEFAULT_GATEWAY_MACS))),
        dhcp_servers=bnd.get("dhcp_servers", frozenset()),
    )
    engine = EngineConfig(
        detectors=det.get("enabled", tuple(PLUGINS)),
        inspect_untunnelled=seg.get("inspect_untunnelled", False),
        scope_by_session=seg.get("scope_by_mirror_session", False),
        strict=det.get("strict", False),
        realert_ns=det.get("realert_seconds", 0) * NS,
        max_alert_keys=det.get("max_alert_keys", 100_000),
    )
    bfile = bnd.get("file") or None
    if bfile and base is not None and not Path(bfile).is_absolute():
        bfile = str(base / bfile)
    return Config(decode, policy, trust, engine, bfile, v.get("alerts", {}).get("path", "-"))


def load(path: str | Path) -> Config:
    """Read and validate a TOML configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config {path}: {exc.strerror}") from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: {exc}") from exc
    try:
        return parse(doc, p.parent)
    except ConfigError as exc:
        raise ConfigError(f"config {path}: {exc}") from exc
