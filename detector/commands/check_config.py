"""`spoofwatch check-config`: validate a configuration file (and its bindings file) and exit."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser("check-config", help="validate a configuration file and exit")
    c.add_argument("file", metavar="FILE")
    c.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from detector.bindings import manual
    from detector.config.settings import load

    cfg = load(args.file)
    if cfg.bindings_file:
        manual.load(cfg.bindings_file)
    print(f"{args.file}: ok")
    return 0
