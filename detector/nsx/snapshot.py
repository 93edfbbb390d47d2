"""NSX snapshot files: one versioned JSON document of everything pulled, without credentials.

A forensic replay judges a capture against the state NSX had near the capture's time, so the
snapshot keeps what was pulled as NSX wrote it (trimmed to the fields spoofwatch reads), with
`pulled_at` and the manager URL. A file that is not one, or of a newer version, is refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from detector.errors import ConfigError, SpoofwatchError

FORMAT = "spoofwatch-nsx-snapshot"
VERSION = 2  # 2: segments of every scope, with their scope and realized VNI
LISTS = ("segments", "spoofguard_profiles", "ip_discovery_profiles", "groups", "policies")


def printable(value: Any) -> Any:
    """A JSON value whose strings are all printable: one holding a control character, a line
    break or a lone surrogate (a `\\ud800` escape) is written with its escapes (`\\x1b`). The
    manager's names reach terminals, logs, HTML and UTF-8 files; NSX paths never hold them."""
    if isinstance(value, str):
        return value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    return value


def check(doc: Any, where: str) -> dict[str, Any]:
    """The document, its strings made printable, if it is a snapshot this version reads;
    ConfigError naming `where` if not."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f'{where}: not a spoofwatch NSX snapshot (no "format": "{FORMAT}")')
    version = doc.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ConfigError(
            f"{where}: snapshot version {version!r}; this spoofwatch reads 1 to {VERSION}"
        )
    for key in LISTS:
        if not isinstance(doc.get(key, []), list):
            raise ConfigError(f"{where}: {key} must be a list")
    for segment in doc.get("segments", []):
        if not isinstance(segment, dict) or not isinstance(segment.get("path"), str):
            raise ConfigError(f"{where}: a segment without a path")
        if not isinstance(segment.get("ports", []), list):
            raise ConfigError(f"{where}: the ports of {segment['path']} must be a list")
        for port in segment.get("ports", []):
            if not isinstance(port, dict) or not isinstance(port.get("path"), str):
                raise ConfigError(f"{where}: a port of {segment['path']} without a path")
    for key in LISTS[1:]:
        if not all(_has_path(item) for item in doc.get(key, [])):
            raise ConfigError(f"{where}: an entry of {key} without a path")
    for policy in doc.get("policies", []):
        rules = policy.get("rules", [])
        if not isinstance(rules, list) or not all(_has_path(r) for r in rules):
            raise ConfigError(f"{where}: the rules of {policy['path']} must be objects with a path")
    try:
        return dict(printable(doc))
    except RecursionError as exc:
        raise ConfigError(f"{where}: nested too deeply to be a snapshot") from exc


def _has_path(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("path"), str)


def load(path: str | Path) -> dict[str, Any]:
    """Read and check a snapshot file (exit 2 material when it is not one)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"NSX snapshot {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"NSX snapshot {path}: not UTF-8 text") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"NSX snapshot {path}: not JSON ({exc.msg}, line {exc.lineno})") from exc
    except RecursionError as exc:
        raise ConfigError(f"NSX snapshot {path}: nested too deeply to be a snapshot") from exc
    return check(doc, f"NSX snapshot {path}")


def dumps(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def save(snapshot: dict[str, Any], path: str | Path) -> None:
    """Write atomically (a temporary file renamed over the target)."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".nsx-", dir=target.parent or ".")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dumps(snapshot))
        os.replace(tmp, target)
    except OSError as exc:
        raise SpoofwatchError(f"NSX snapshot {path}: {exc.strerror}") from exc


def census(snapshot: dict[str, Any]) -> str:
    """What a snapshot holds, for people: segments by scope, ports, VNIs by how they were found."""
    segments = [s for s in snapshot.get("segments", []) if isinstance(s, dict)]
    scopes = Counter(str(s.get("scope", "infra")).partition(":")[0] for s in segments)
    methods = vni_methods(snapshot)
    unmapped = Counter(str(s["vni_unmapped"]) for s in segments if s.get("vni_unmapped"))
    ports = sum(len(s.get("ports", [])) for s in segments)
    children = sum(
        1
        for s in segments
        for p in s.get("ports", [])
        if isinstance(p, dict)
        and isinstance(p.get("attachment"), dict)
        and p["attachment"].get("type") == "CHILD"
    )

    def listed(counts: Counter[str]) -> str:
        return ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))

    vnis = listed(methods) + (f" (unmapped: {listed(unmapped)})" if unmapped else "")

    def many(n: int, what: str) -> str:
        return f"{n} {what}{'' if n == 1 else 's'}"

    return (
        f"{many(len(segments), 'segment')} ({listed(scopes)}), {many(ports, 'port')}"
        + (f" ({many(children, 'child port')})" if children else "")
        + f"; VNI by {vnis}"
    )


def vni_methods(snapshot: dict[str, Any]) -> Counter[str]:
    """Segments by how their VNI was found: intent, realized, or none (VLAN or unmapped).
    A snapshot of version 1 knew only `overlay_id`."""
    return Counter(
        str(s.get("vni_method", "intent" if "overlay_id" in s else "none"))
        for s in snapshot.get("segments", [])
        if isinstance(s, dict)
    )
