"""Configuration: one TOML file → frozen dataclasses, validated before any file or socket opens.

Unknown keys and bad values are errors that name the key (`bindings.arp_binding_limit: …`).
`pipelines/replay.toml` documents every key with its default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.config import anomaly
from detector.config import checks as v
from detector.config import nsx as nsx_settings
from detector.config import sinks as sink_settings
from detector.config import state as state_settings
from detector.config.bindings import DEFAULT_GATEWAY_MACS, BindingPolicy, MacPattern, TrustPolicy
from detector.config.decode import DecodeConfig
from detector.config.detectors import EngineConfig
from detector.config.nsx import NsxConfig
from detector.config.sinks import SinksConfig
from detector.errors import ConfigError
from detector.plugins import PLUGINS, SOURCES

NS = 1_000_000_000
RING_MB = 768  # the capture ring: about a second at 1M packets/s of 650-byte frames


@dataclass(frozen=True, slots=True)
class RunConfig:
    """What `spoofwatch run` needs beyond the pipeline: source, metrics, state, logging."""

    source: str = "live"  # live (AF_PACKET) or udp (a tunnel ended on a socket)
    interface: str = ""
    bpf_filter: str = ""
    promiscuous: bool = True
    listen: tuple[str, int] = ("0.0.0.0", 6081)
    max_batch: int = 32768
    ring_mb: int = 0  # the TPACKET_V3 ring (0: none, a recv() a packet); [source] default RING_MB
    metrics_listen: tuple[str, int] = ("127.0.0.1", 9750)
    tls_cert: str = ""
    tls_key: str = ""
    log_format: str = "text"
    log_level: str = "info"


@dataclass(frozen=True, slots=True)
class TimelineConfig:
    """`spoofwatch run` keeps a per-port timeline: rotated Parquet files, bounded on disk."""

    directory: str
    bucket_seconds: float = 1.0
    rotate_seconds: int = 600
    max_mb: int = 1024


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a run needs, validated."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    policy: BindingPolicy = field(default_factory=BindingPolicy)
    trust: TrustPolicy = field(default_factory=TrustPolicy)
    engine: EngineConfig = field(default_factory=EngineConfig)
    bindings_file: str | None = None
    alerts_path: str = "-"
    run: RunConfig = field(default_factory=RunConfig)
    nsx: NsxConfig | None = None  # no [nsx] section: bindings come from the wire alone
    timeline: TimelineConfig | None = None  # no [timeline] section: run keeps none
    alerts_format: str = "jsonl"  # the alerts file: jsonl (the contract), ecs or text
    sinks: SinksConfig = field(default_factory=SinksConfig)  # [sinks.*]: network sinks
    anomaly: anomaly.AnomalyConfig | None = None  # no [anomaly] model: no behaviour scoring
    state: state_settings.StateConfig = field(default_factory=state_settings.StateConfig)


SECTIONS: dict[str, dict[str, v.Check]] = {
    "decode": {
        "geneve_ports": v.port_list,
        "vxlan_ports": v.port_list,
        "vxlan_gpe_ports": v.port_list,
        "ipfix_ports": v.port_list,
        "max_tunnel_depth": v.integer(1, 8),
    },
    "segments": {
        "inspect_untunnelled": v.boolean,
        "scope_by_mirror_session": v.boolean,
        "only": v.segment_names,
        "shard": v.shard,
    },
    "bindings": {
        "arp_binding_limit": v.integer(1, 256),
        "nd_binding_limit": v.integer(2, 15),
        "trust_on_first_use": v.boolean,
        "binding_timeout_seconds": v.integer(300, 7200),
        "max_ports": v.integer(1, 100_000_000),
        "max_discovered_per_port": v.integer(0, 4096),
        "file": v.string,
        "gateway_macs": v.mac_patterns,
        "dhcp_servers": v.dhcp_servers,
        "learn_from_flows": v.boolean,
    },
    "detectors": {
        "enabled": v.detector_names,
        "strict": v.boolean,
        "realert_seconds": v.integer(0, 30 * 86400),
        "max_alert_keys": v.integer(1, 100_000_000),
    },
    "alerts": {"path": v.string, "format": v.choice("jsonl", "ecs", "text")},
    # spoofwatch run
    "source": {
        "kind": v.choice(*SOURCES),
        "interface": v.string,
        "bpf_filter": v.string,
        "promiscuous": v.boolean,
        "listen": v.listen,
        "max_batch": v.integer(1, 65536),
        "ring_mb": v.integer(0, 65536),
    },
    "metrics": {"listen": v.listen, "tls_cert": v.string, "tls_key": v.string},
    "state": state_settings.CHECKS,
    "nsx": nsx_settings.CHECKS,
    "timeline": {
        "directory": v.string,
        "bucket_seconds": v.number(0.001, 3600),
        "rotate_seconds": v.integer(10, 86400),
        "max_mb": v.integer(1, 10_000_000),
    },
    "anomaly": anomaly.CHECKS,
    "logging": {
        "format": v.choice("text", "json"),
        "level": v.choice("debug", "info", "warning", "error"),
    },
}


def parse(doc: dict[str, Any], base: Path | None = None) -> Config:
    """Validate a parsed TOML document and build the Config."""
    got: dict[str, dict[str, Any]] = {}
    for section, table in doc.items():
        if section == "sinks":
            continue  # nested tables, checked by detector.config.sinks
        if section not in SECTIONS:
            known = ", ".join([*SECTIONS, "sinks.<name>"])
            raise ConfigError(f"unknown section [{section}]; known: {known}")
        if not isinstance(table, dict):
            raise ConfigError(f"{section}: expected a table [{section}]")
        checks = SECTIONS[section]
        got[section] = {}
        for key, value in table.items():
            if key not in checks:
                raise ConfigError(f"unknown key {section}.{key}; known: {', '.join(checks)}")
            got[section][key] = checks[key](f"{section}.{key}", value)
    dec, seg = got.get("decode", {}), got.get("segments", {})
    bnd, det = got.get("bindings", {}), got.get("detectors", {})
    defaults = DecodeConfig()
    decode = DecodeConfig(
        geneve_ports=dec.get("geneve_ports", defaults.geneve_ports),
        vxlan_ports=dec.get("vxlan_ports", defaults.vxlan_ports),
        vxlan_gpe_ports=dec.get("vxlan_gpe_ports", defaults.vxlan_gpe_ports),
        ipfix_ports=dec.get("ipfix_ports", defaults.ipfix_ports),
        max_depth=dec.get("max_tunnel_depth", defaults.max_depth),
    )
    tunnels = decode.geneve_ports | decode.vxlan_ports | decode.vxlan_gpe_ports
    clash = (
        (decode.geneve_ports & decode.vxlan_ports)
        | ((decode.geneve_ports | decode.vxlan_ports) & decode.vxlan_gpe_ports)
        | (tunnels & decode.ipfix_ports)
    )
    if clash:
        raise ConfigError(f"decode: port {min(clash)} is given to two tunnel types")
    policy = BindingPolicy(
        arp_binding_limit=bnd.get("arp_binding_limit", 1),
        nd_binding_limit=bnd.get("nd_binding_limit", 3),
        trust_on_first_use=bnd.get("trust_on_first_use", True),
        binding_timeout_ns=bnd.get("binding_timeout_seconds", 600) * NS,
        max_ports=bnd.get("max_ports", BindingPolicy().max_ports),
        max_discovered_per_port=bnd.get("max_discovered_per_port", 16),
    )
    trust = TrustPolicy(
        gateway_macs=bnd.get("gateway_macs", tuple(map(MacPattern.parse, DEFAULT_GATEWAY_MACS))),
        dhcp_servers=bnd.get("dhcp_servers", frozenset()),
        learn_from_flows=bnd.get("learn_from_flows", False),
    )
    engine = EngineConfig(
        detectors=det.get("enabled", tuple(PLUGINS)),
        inspect_untunnelled=seg.get("inspect_untunnelled", False),
        scope_by_session=seg.get("scope_by_mirror_session", False),
        strict=det.get("strict", False),
        realert_ns=det.get("realert_seconds", 0) * NS,
        max_alert_keys=det.get("max_alert_keys", 100_000),
        only=seg.get("only", frozenset()),
        shard=seg.get("shard", (1, 1)),
    )
    bfile = bnd.get("file") or None
    bfile = _relative(bfile, base) if bfile else None
    alerts = got.get("alerts", {})
    sinks = sink_settings.parse(doc["sinks"], base) if "sinks" in doc else SinksConfig()
    run = _run(got, decode, base)
    nsx = nsx_settings.parse(got["nsx"], base) if "nsx" in got else None
    timeline = _timeline(got["timeline"], base) if "timeline" in got else None
    path, fmt = alerts.get("path", "-"), alerts.get("format", "jsonl")
    beh = anomaly.parse(got.get("anomaly", {}), base)
    state = state_settings.parse(got.get("state", {}), base)
    return Config(
        decode, policy, trust, engine, bfile, path, run, nsx, timeline, fmt, sinks, beh, state
    )


def _relative(value: str, base: Path | None) -> str:
    """A path in the config file is relative to the file's folder."""
    if value and base is not None and not Path(value).is_absolute():
        return str(base / value)
    return value


def _timeline(t: dict[str, Any], base: Path | None) -> TimelineConfig:
    directory = t.get("directory", "")
    if not directory:
        raise ConfigError("timeline.directory: where run writes its timeline files is required")
    directory = _relative(directory, base)
    d = TimelineConfig(directory)
    return TimelineConfig(
        directory,
        t.get("bucket_seconds", d.bucket_seconds),
        t.get("rotate_seconds", d.rotate_seconds),
        t.get("max_mb", d.max_mb),
    )


def _run(got: dict[str, dict[str, Any]], decode: DecodeConfig, base: Path | None) -> RunConfig:
    src, met = got.get("source", {}), got.get("metrics", {})
    kind = src.get("kind", "live")
    listen = src.get("listen", ("0.0.0.0", 6081))
    tunnel_ports = decode.geneve_ports | decode.vxlan_ports | decode.vxlan_gpe_ports
    if kind == "udp" and listen[1] not in tunnel_ports | decode.ipfix_ports:
        raise ConfigError(
            f"source.listen: port {listen[1]} is not a Geneve, VXLAN or IPFIX port of [decode];"
            " add it to decode.geneve_ports, decode.vxlan_ports or decode.ipfix_ports"
        )
    cert, key = met.get("tls_cert", ""), met.get("tls_key", "")
    if bool(cert) != bool(key):
        raise ConfigError("metrics: tls_cert and tls_key go together")
    log = got.get("logging", {})
    ports = " or ".join(f"udp dst port {p}" for p in sorted(tunnel_ports))
    default_bpf = f"({ports} or ip proto 47 or ip6 proto 47) or (vlan and ({ports} or ip proto 47))"
    return RunConfig(
        source=kind,
        interface=src.get("interface", ""),
        bpf_filter=src.get("bpf_filter", default_bpf),
        promiscuous=src.get("promiscuous", True),
        listen=listen,
        max_batch=src.get("max_batch", 32768),
        ring_mb=src.get("ring_mb", RING_MB),
        metrics_listen=met.get("listen", ("127.0.0.1", 9750)),
        tls_cert=cert,
        tls_key=key,
        log_format=log.get("format", "text"),
        log_level=log.get("level", "info"),
    )


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


def load_or_default(path: str | None) -> Config:
    """The configuration in `path`, or the defaults when no file is named."""
    return load(path) if path else Config()
