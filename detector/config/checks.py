"""Validators for configuration values: each takes the key path and the value, and returns the
value in its final type or raises ConfigError naming the key."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from detector.config.bindings import MacPattern
from detector.errors import ConfigError
from detector.plugins import PLUGINS
from detector.values import PortKey, normalize_mac

Check = Callable[[str, Any], Any]


def expects(check: Check) -> str:
    """What a check accepts, in words: the first line of its docstring (the reference uses it)."""
    return (check.__doc__ or "").strip().splitlines()[0].rstrip(".") if check.__doc__ else ""


def port_list(name: str, v: Any) -> frozenset[int]:
    """a list of UDP ports (1-65535)."""
    if not isinstance(v, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in v
    ):
        raise ConfigError(f"{name}: expected a list of UDP ports (1-65535), got {v!r}")
    return frozenset(v)


def integer(lo: int, hi: int) -> Check:
    def check(name: str, v: Any) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ConfigError(f"{name}: expected an integer from {lo} to {hi}, got {v!r}")
        return v

    check.__doc__ = f"an integer from {lo:,} to {hi:,}."
    return check


def number(lo: float, hi: float) -> Check:
    def check(name: str, v: Any) -> float:
        if not isinstance(v, int | float) or isinstance(v, bool) or not lo <= v <= hi:
            raise ConfigError(f"{name}: expected a number from {lo:g} to {hi:g}, got {v!r}")
        return float(v)

    check.__doc__ = f"a number from {lo:g} to {hi:g}."
    return check


def boolean(name: str, v: Any) -> bool:
    """true or false."""
    if not isinstance(v, bool):
        raise ConfigError(f"{name}: expected true or false, got {v!r}")
    return v


def string(name: str, v: Any) -> str:
    """a string."""
    if not isinstance(v, str):
        raise ConfigError(f"{name}: expected a string, got {v!r}")
    return v


def choice(*options: str) -> Check:
    def check(name: str, v: Any) -> str:
        if v not in options:
            raise ConfigError(f"{name}: expected one of {', '.join(options)}, got {v!r}")
        return str(v)

    check.__doc__ = f"one of {', '.join(options)}."
    return check


def subset(*options: str) -> Check:
    def check(name: str, v: Any) -> tuple[str, ...]:
        if not isinstance(v, list) or any(x not in options for x in v) or not v:
            raise ConfigError(f"{name}: expected a list of some of {', '.join(options)}, got {v!r}")
        return tuple(dict.fromkeys(v))

    check.__doc__ = f"a non-empty list of some of {', '.join(options)}."
    return check


def listen(name: str, v: Any) -> tuple[str, int]:
    """host:port, or [v6]:port."""
    text = string(name, v)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: expected host:port such as 127.0.0.1:9750, got {v!r}")
    return host.strip("[]"), int(port)


def mac_patterns(name: str, v: Any) -> tuple[MacPattern, ...]:
    """a list of MACs or MAC prefixes ("00:00:5e:00:01:00/40")."""
    if not isinstance(v, list):
        raise ConfigError(f"{name}: expected a list of MACs or MAC prefixes, got {v!r}")
    try:
        return tuple(MacPattern.parse(str(m)) for m in v)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def dhcp_servers(name: str, v: Any) -> frozenset[PortKey]:
    """a list of {segment = "geneve:5001", mac = "..."} tables."""
    if not isinstance(v, list):
        raise ConfigError(f"{name}: expected a list of {{segment = ..., mac = ...}} tables")
    out = set()
    for i, item in enumerate(v):
        if not isinstance(item, dict) or set(item) != {"segment", "mac"}:
            raise ConfigError(f'{name}[{i}]: expected {{segment = "geneve:5001", mac = "..."}}')
        try:
            out.add(
                PortKey(string(f"{name}[{i}].segment", item["segment"]), normalize_mac(item["mac"]))
            )
        except ValueError as exc:
            raise ConfigError(f"{name}[{i}].mac: {exc}") from exc
    return frozenset(out)


def detector_names(name: str, v: Any) -> tuple[str, ...]:
    """a list of detector names (see [detectors])."""
    if not isinstance(v, list) or not all(isinstance(d, str) for d in v):
        raise ConfigError(f"{name}: expected a list of detector names")
    unknown = [d for d in v if d not in PLUGINS]
    if unknown:
        raise ConfigError(f"{name}: unknown detector {unknown[0]!r}; known: {', '.join(PLUGINS)}")
    return tuple(v)


def strings(name: str, v: Any) -> tuple[str, ...]:
    """a list of non-empty strings."""
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise ConfigError(f"{name}: expected a list of strings")
    return tuple(v)


def https_url(name: str, v: Any) -> str:
    """https://<manager>, with no credentials in it."""
    url = string(name, v).rstrip("/")
    if not url.startswith("https://") or "@" in url or len(url) <= len("https://"):
        raise ConfigError(
            f"{name}: expected https://<manager> (credentials go in nsx.username and"
            " nsx.password_file, never in the URL)"
        )
    return url


def shard(name: str, v: Any) -> tuple[int, int]:
    """ "k/n": the k-th of n shares of the segments (1 <= k <= n <= 4096)."""
    k, _, n = string(name, v).partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n) <= 4096):
        raise ConfigError(f'{name}: expected "k/n" with 1 <= k <= n <= 4096 (as "2/4"), got {v!r}')
    return int(k), int(n)


def segment_names(name: str, v: Any) -> frozenset[str]:
    """a list of segment names (geneve:5001, vxlan:5001, vlan:10, untagged, erspan:3/vlan:10)."""
    names = strings(name, v)
    pattern = re.compile(r"^((geneve|vxlan):\d+|vlan:[\d.]+|untagged|erspan:\d+/.+)$")
    bad = [x for x in names if not pattern.match(x)]
    if bad:
        raise ConfigError(
            f"{name}: {bad[0]!r} is not a segment name (geneve:5001, vxlan:5001, vlan:10,"
            " untagged, erspan:3/vlan:10)"
        )
    return frozenset(names)
