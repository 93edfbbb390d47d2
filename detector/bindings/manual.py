"""Manual bindings from a CSV file with the header `segment,mac,address` (address: IP or CIDR)."""

from __future__ import annotations

import csv
import ipaddress
import re
from pathlib import Path

from detector.bindings.table import BindingTable, Network
from detector.errors import ConfigError
from detector.values import PortKey, normalize_mac

__all__ = ["apply", "load"]

SEGMENT_RE = re.compile(r"^((geneve|vxlan):\d+|vlan:\d+(\.\d+)?|untagged|erspan:\d+/\S+)$")


def load(path: str | Path) -> list[tuple[PortKey, Network]]:
    """Read and validate a bindings file; every error names the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"bindings file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(f"bindings file {path} line {line}: not UTF-8 text") from exc
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header is None or [h.strip() for h in header] != ["segment", "mac", "address"]:
        raise ConfigError(f"bindings file {path}: first line must be 'segment,mac,address'")
    out: list[tuple[PortKey, Network]] = []
    for line, row in enumerate(rows, start=2):
        if not row or row[0].startswith("#"):
            continue
        if len(row) != 3:
            raise ConfigError(
                f"bindings file {path} line {line}: expected 3 fields, got {len(row)}"
            )
        segment = row[0].strip()
        if not SEGMENT_RE.match(segment):
            raise ConfigError(
                f"bindings file {path} line {line}: bad segment {segment!r}"
                " (geneve:<vni>, vxlan:<vni>, vlan:<id> or untagged)"
            )
        try:
            mac = normalize_mac(row[1])
            network = ipaddress.ip_network(row[2].strip(), strict=True)
        except ValueError as exc:
            raise ConfigError(f"bindings file {path} line {line}: {exc}") from exc
        out.append((PortKey(segment, mac), network))
    return out


def apply(table: BindingTable, bindings: list[tuple[PortKey, Network]]) -> None:
    """Realize manual bindings in the table."""
    for port, network in bindings:
        table.add_network(port, network)
