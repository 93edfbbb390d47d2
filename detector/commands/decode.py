"""`spoofwatch decode`: one line per decapsulated inner frame (JSON lines or CSV), and a summary."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detector.values import Frame

CSV_COLUMNS = [
    "file",
    "packet",
    "time",
    "encap",
    "vni",
    "outer_src",
    "outer_dst",
    "src_mac",
    "dst_mac",
    "vlan",
    "ethertype",
    "src_ip",
    "dst_ip",
    "ip_proto",
]


def frame_to_dict(f: Frame, source: str) -> dict[str, Any]:
    """A frame as the keys of the decode contract, plus the details that were decoded."""
    from detector.values import rfc3339

    d: dict[str, Any] = {
        "file": source,
        "packet": f.packet,
        "time": rfc3339(f.ts_ns),
        "encap": f.encap,
        "vni": f.vni,
        "outer_src": f.outer_src,
        "outer_dst": f.outer_dst,
        "src_mac": f.src_mac,
        "dst_mac": f.dst_mac,
        "vlan": list(f.vlans),
        "ethertype": f"0x{f.ethertype:04x}" if f.ethertype is not None else None,
        "src_ip": f.src_ip,
        "dst_ip": f.dst_ip,
        "ip_proto": f.ip_proto,
    }
    if f.session is not None:
        d["erspan"] = {"session": f.session, "vlan": f.mirror_vlan}
    if f.options:
        d["geneve_options"] = [{"class": c, "type": t, "data": v.hex()} for c, t, v in f.options]
    if f.oam:
        d["geneve_oam"] = True
    for name in ("arp", "nd", "dhcp"):
        value = getattr(f, name)
        if value is not None:
            d[name] = {k: getattr(value, k) for k in value.__slots__}
    return d


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser("decode", help="one line per decapsulated inner frame, for debugging")
    d.add_argument("captures", nargs="+", metavar="CAPTURE")
    d.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    d.add_argument("--config", metavar="FILE", help="TOML configuration (tunnel ports)")
    d.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Decode every capture to stdout; summary and failures on stderr."""
    from detector.commands.summary import finish, pairs
    from detector.config.settings import load_or_default
    from detector.decoders.chain import Decoder
    from detector.sources.capture import each_batch
    from detector.values import DecodeStats

    stats = DecodeStats()
    decoder = Decoder(load_or_default(args.config).decode, stats)
    writer = csv.writer(sys.stdout) if args.format == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    failures: list[str] = []
    for batch in each_batch(args.captures, failures):
        lines = []
        for frame in decoder.frames(batch):
            d = frame_to_dict(frame, batch.source)
            if writer is not None:
                d["vlan"] = ".".join(map(str, d["vlan"]))
                writer.writerow([d[c] for c in CSV_COLUMNS])
            else:
                lines.append(json.dumps(d, separators=(",", ":")))
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
    return finish(
        f"spoofwatch decode: {stats.packets:,} packets; frames by encapsulation:"
        f" {pairs(stats.frames)}; decode errors: {pairs(stats.errors)}"
        + (f"; not decoded: {pairs(stats.skipped)}" if stats.skipped else ""),
        failures,
    )
