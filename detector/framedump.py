"""`spoofwatch decode`: one line per decapsulated inner frame (JSON lines or CSV), and a summary."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from detector.config import Config
from detector.decoders import Decoder
from detector.errors import CaptureError
from detector.model import DecodeStats, Frame, RecordBatch, rfc3339
from detector.summary import pairs

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


def _each_batch(paths: list[str], failures: list[str]) -> Iterator[RecordBatch]:
    """The batches of every capture in turn; an unreadable one is noted and skipped."""
    from detector.sources import CaptureFile

    for path in paths:
        try:
            yield from CaptureFile(path).batches()
        except CaptureError as exc:
            failures.append(str(exc))


def _finish(summary: str, failures: list[str]) -> int:
    print(summary, file=sys.stderr)
    for failure in failures:
        print(f"spoofwatch: error: {failure}", file=sys.stderr)
    return 1 if failures else 0


def run(args: argparse.Namespace, config: Config) -> int:
    """Decode every capture to stdout; summary and failures on stderr."""
    stats = DecodeStats()
    decoder = Decoder(config.decode, stats)
    writer = csv.writer(sys.stdout) if args.format == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    failures: list[str] = []
    for batch in _each_batch(args.captures, failures):
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
    return _finish(
        f"spoofwatch decode: {stats.packets:,} packets; frames by encapsulation:"
        f" {pairs(stats.frames)}; decode errors: {pairs(stats.errors)}",
        failures,
    )


def run_flows(args: argparse.Namespace, config: Config) -> int:
    """`spoofwatch flows`: every IPFIX / NetFlow v9 record, all elements, one JSON line each."""
    decoder = Decoder(config.decode, DecodeStats())
    out: list[str] = []

    def keep(flow: Any) -> None:
        out.append(
            json.dumps(
                {
                    "exporter": flow.exporter,
                    "domain": flow.domain,
                    "export_time": flow.export_time,
                    **flow.values,
                }
            )
        )

    decoder.on_flow = keep
    failures: list[str] = []
    for batch in _each_batch(args.captures, failures):
        for _ in decoder.frames(batch):
            pass
        if out:
            sys.stdout.write("\n".join(out) + "\n")
            out.clear()
    stats = decoder.ipfix.stats
    errors = Counter({k[6:]: n for k, n in stats.items() if k.startswith("error:")})
    return _finish(
        f"spoofwatch flows: {stats['records']:,} records, {stats['templates']:,} templates,"
        f" {stats['template-missing']:,} data sets before their template,"
        f" {stats['lost-records']:,} records lost (sequence gaps); errors: {pairs(errors)}",
        failures,
    )
