"""The tabular files spoofwatch writes for people and notebooks: names, columns and versions."""

from __future__ import annotations

from pathlib import Path

TIMELINE_FORMAT = "spoofwatch-timeline"
TIMELINE_VERSION = 1
TIMELINE_META_KEY = b"spoofwatch"  # Parquet key-value metadata; CSV: timeline_meta_path(FILE)

# (column, meaning): one row per (segment, MAC, source, tunnel endpoint, time bucket)
TIMELINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("time", "start of the bucket (UTC)"),
    ("segment", "the port's segment, e.g. geneve:5001"),
    ("encap", "the encapsulation the frames came in (geneve, vxlan, erspan, gre; empty: none)"),
    ("mac", "the port's MAC address"),
    (
        "src_ip",
        "the source the table checks: IP source, or sender of an ARP that teaches it; "
        "empty for frames with nothing to check (other ARP, non-IP, 0.0.0.0, ::)",
    ),
    ("tunnel_endpoint", "outer source address of the tunnel (the hypervisor's TEP)"),
    ("packets", "mirrored packets"),
    ("bytes", "bytes of those packets as mirrored (tunnel headers included)"),
    ("destinations", "distinct destinations (IP destination, ARP target)"),
    ("unbound_packets", "packets sent while the source was not bound to the port"),
    ("bound", "true when every packet's source was bound at that moment"),
)
TIMELINE_NAMES = tuple(name for name, _ in TIMELINE_COLUMNS)


def timeline_meta_path(path: str | Path) -> Path:
    """Where a CSV timeline's metadata is kept: FILE.meta.json beside FILE."""
    return Path(f"{path}.meta.json")
