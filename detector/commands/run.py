"""`spoofwatch run`: continuous monitoring of a live mirror or a UDP tunnel, with /metrics."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    n = sub.add_parser(
        "run",
        help="continuous monitoring of a live mirror, with /metrics",
        description="Watch a mirror interface (AF_PACKET, needs CAP_NET_RAW) or "
        "a UDP tunnel endpoint; serve Prometheus metrics; persist bindings. "
        "SIGHUP reloads the configuration, SIGTERM stops cleanly.",
    )
    n.add_argument(
        "--config",
        metavar="FILE",
        required=True,
        help="TOML configuration (see pipelines/live-geneve.toml)",
    )
    n.add_argument(
        "--check-config", action="store_true", help="validate the configuration and exit"
    )
    n.add_argument(
        "--reset-state",
        action="store_true",
        help="start with an empty binding table, discarding the state file",
    )
    n.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from detector.config.settings import load
    from detector.logs import setup_logging
    from detector.runners.daemon import Daemon

    cfg = load(args.config)
    if args.check_config:
        print(f"{args.config}: ok")
        return 0
    setup_logging(cfg.run.log_format, cfg.run.log_level)
    return Daemon(args.config, reset_state=args.reset_state).run()
