"""`spoofwatch flows`: every IPFIX / NetFlow v9 record with all its elements, for debugging."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    f = sub.add_parser(
        "flows",
        help="every IPFIX / NetFlow v9 record, for debugging",
        description="Decode IPFIX and NetFlow v9 from captures (UDP to "
        "decode.ipfix_ports) or raw IPFIX message files; one JSON line a record.",
    )
    f.add_argument("captures", nargs="+", metavar="FILE")
    f.add_argument("--config", metavar="FILE", help="TOML configuration (IPFIX ports)")
    f.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Every IPFIX / NetFlow v9 record, all elements, one JSON line each."""
    from detector.commands.summary import finish, pairs
    from detector.config.settings import load_or_default
    from detector.decoders.chain import Decoder
    from detector.sources.capture import each_batch
    from detector.values import DecodeStats

    decoder = Decoder(load_or_default(args.config).decode, DecodeStats())
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
    for batch in each_batch(args.captures, failures):
        for _ in decoder.frames(batch):
            pass
        if out:
            sys.stdout.write("\n".join(out) + "\n")
            out.clear()
    stats = decoder.ipfix.stats
    errors = Counter({k[6:]: n for k, n in stats.items() if k.startswith("error:")})
    return finish(
        f"spoofwatch flows: {stats['records']:,} records, {stats['templates']:,} templates,"
        f" {stats['template-missing']:,} data sets before their template,"
        f" {stats['lost-records']:,} records lost (sequence gaps); errors: {pairs(errors)}",
        failures,
    )
