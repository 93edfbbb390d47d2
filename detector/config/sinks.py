"""The `[sinks.<name>]` sections of the configuration, validated into each sink's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detector.config import checks as v
from detector.errors import ConfigError

# RFC 5424 §6.2.1: facility names and numbers; severities 2 critical, 4 warning, 6 informational.
FACILITIES = {
    "kern": 0, "user": 1, "daemon": 3, "auth": 4, "syslog": 5, "authpriv": 10, "local0": 16,
    "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22,
    "local7": 23,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SyslogConfig:
    """`[sinks.syslog]`."""

    address: tuple[str, int]
    protocol: str = "udp"  # udp, tcp or tls
    facility: str = "local0"
    app_name: str = "spoofwatch"
    sd_id: str = "spoofwatch@32473"  # 32473: the enterprise number IANA reserves for examples
    hostname: str = ""  # default: this host's name
    max_queue: int = 10_000
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    server_name: str = ""  # the name the TLS certificate must carry; default: the address host
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class AlertmanagerConfig:
    """`[sinks.alertmanager]`."""

    urls: tuple[str, ...]
    resend_seconds: int = 60  # the client guidance asks for 30 s to 3 min
    resolve_seconds: int = 300  # no packet behind an alert for this long: it is resolved
    timeout_seconds: int = 5
    max_alerts: int = 10_000  # active alerts kept for re-sending; beyond it the oldest is dropped
    collector: str = ""  # the `collector` label; default: this host's name
    generator_url: str = ""  # default: http://<collector>:<metrics port>/metrics
    username: str = ""
    password_file: str = ""
    bearer_token_file: str = ""
    ca_file: str = ""
    verify_tls: bool = True


FILES = ("password_file", "bearer_token_file", "ca_file", "client_cert", "client_key")


def _http_urls(name: str, value: Any) -> tuple[str, ...]:
    """a list of http(s)://host:port URLs, with no credentials in them."""
    urls = v.strings(name, value)
    for url in urls:
        if not url.startswith(("http://", "https://")) or "@" in url:
            raise ConfigError(
                f"{name}: expected http(s)://host:port URLs (credentials go in username and"
                f" password_file, never in the URL), got {url!r}"
            )
    if not urls:
        raise ConfigError(f"{name}: give at least one Alertmanager URL")
    return tuple(u.rstrip("/") for u in urls)


CHECKS: dict[str, dict[str, v.Check]] = {
    "alertmanager": {
        "urls": _http_urls,
        "resend_seconds": v.integer(30, 180),
        "resolve_seconds": v.integer(1, 86400),
        "timeout_seconds": v.integer(1, 120),
        "max_alerts": v.integer(1, 1_000_000),
        "collector": v.string,
        "generator_url": v.string,
        "username": v.string,
        "password_file": v.string,
        "bearer_token_file": v.string,
        "ca_file": v.string,
        "verify_tls": v.boolean,
    },
    "syslog": {
        "address": v.listen,
        "protocol": v.choice("udp", "tcp", "tls"),
        "facility": v.choice(*FACILITIES),
        "app_name": v.string,
        "sd_id": v.string,
        "hostname": v.string,
        "max_queue": v.integer(1, 10_000_000),
        "ca_file": v.string,
        "client_cert": v.string,
        "client_key": v.string,
        "server_name": v.string,
        "verify_tls": v.boolean,
    },
}


@dataclass(frozen=True, slots=True)
class SinksConfig:
    """The network sinks that are on (None: that section is absent)."""

    alertmanager: AlertmanagerConfig | None = None
    syslog: SyslogConfig | None = None


def parse(doc: Any, base: Path | None) -> SinksConfig:
    """Validate `[sinks.*]`; relative file paths are taken from the config file's folder."""
    if not isinstance(doc, dict):
        raise ConfigError("sinks: expected tables such as [sinks.alertmanager]")
    got: dict[str, dict[str, Any]] = {}
    for name, table in doc.items():
        if name not in CHECKS:
            raise ConfigError(f"unknown sink [sinks.{name}]; known: {', '.join(CHECKS)}")
        if not isinstance(table, dict):
            raise ConfigError(f"sinks.{name}: expected a table [sinks.{name}]")
        got[name] = {}
        for key, value in table.items():
            if key not in CHECKS[name]:
                known = ", ".join(CHECKS[name])
                raise ConfigError(f"unknown key sinks.{name}.{key}; known: {known}")
            value = CHECKS[name][key](f"sinks.{name}.{key}", value)
            if key in FILES and value and base is not None and not Path(value).is_absolute():
                value = str(base / value)
            got[name][key] = value
    am = sl = None
    if "alertmanager" in got:
        if "urls" not in got["alertmanager"]:
            raise ConfigError('sinks.alertmanager.urls: required, e.g. ["http://am1:9093"]')
        am = AlertmanagerConfig(**got["alertmanager"])
        if am.password_file and not am.username:
            raise ConfigError("sinks.alertmanager: password_file needs username")
        if am.username and am.bearer_token_file:
            raise ConfigError("sinks.alertmanager: use basic auth or a bearer token, not both")
    if "syslog" in got:
        if "address" not in got["syslog"]:
            raise ConfigError('sinks.syslog.address: required, e.g. "127.0.0.1:514"')
        sl = SyslogConfig(**got["syslog"])
        if bool(sl.client_cert) != bool(sl.client_key):
            raise ConfigError("sinks.syslog: client_cert and client_key go together")
        if len(sl.app_name) > 48 or not sl.app_name.isprintable() or " " in sl.app_name:
            raise ConfigError("sinks.syslog.app_name: at most 48 printable characters, no spaces")
        name = sl.sd_id
        if not 0 < len(name) <= 32 or any(c in name for c in '= ]"') or not name.isascii():
            raise ConfigError('sinks.syslog.sd_id: 1-32 ASCII characters without = ] " or space')
        if " " in sl.hostname:
            raise ConfigError("sinks.syslog.hostname: no spaces")
    return SinksConfig(am, sl)
