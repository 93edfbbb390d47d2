"""The `spoofwatch` command: replay, decode and check-config; exit codes 0 ok, 1 input, 2 config."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from detector import __version__
from detector.errors import CaptureError, ConfigError, SinkError, SpoofwatchError

if TYPE_CHECKING:
    from detector.config import Config

EPILOG = """\
examples:
  spoofwatch replay pcaps/geneve-ip-change.pcap --format text
      replay a capture and print its alerts for a person to read
  spoofwatch replay mirror-*.pcap.gz --config pipelines/replay.toml --alerts alerts.jsonl
      replay several captures in order (one binding table) and write JSON lines
  tcpdump -i ens224 -w - 'udp port 6081' | spoofwatch replay -
      read a live capture from standard input
  spoofwatch decode capture.pcapng --format csv
      one line per decapsulated inner frame, for debugging
  spoofwatch replay capture.pcap --alerts alerts.jsonl && spoofwatch explain alerts.jsonl
      every layer of the packet behind each alert, dissected by Wireshark
  spoofwatch check-config pipelines/replay.toml
  spoofwatch run --config pipelines/live-geneve.toml
      continuous monitoring of a mirror interface, metrics on 127.0.0.1:9750
  spoofwatch bindings export --state /var/lib/spoofwatch/state.db > bindings.csv

exit status: 0 the captures were processed (whatever was found), 1 an input or output could
not be read or written, 2 the configuration or the command line is invalid.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="spoofwatch",
        description="Detect VMs speaking from addresses they are not bound to, in mirrored "
        "Geneve / VXLAN / ERSPAN overlay traffic, the way NSX-T IP discovery binds them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"spoofwatch {__version__}")
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity on stderr; debug shows the first bytes of every bad packet",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    r = sub.add_parser(
        "replay",
        help="forensic replay of captures: alerts as JSON lines",
        description="Replay pcap/pcapng captures (also .gz, or - for stdin) in "
        "order through one binding table and write the alerts.",
    )
    r.add_argument("captures", nargs="+", metavar="CAPTURE")
    r.add_argument(
        "--config", metavar="FILE", help="TOML configuration (see pipelines/replay.toml)"
    )
    r.add_argument(
        "--bindings",
        metavar="FILE",
        help="manual bindings CSV (segment,mac,address); overrides bindings.file",
    )
    r.add_argument(
        "--alerts",
        metavar="PATH",
        help="where alerts go: a file, or - for standard output (default)",
    )
    r.add_argument(
        "--format",
        choices=["jsonl", "text"],
        default="jsonl",
        help="jsonl (the contract, for machines) or text (for people)",
    )
    r.add_argument(
        "--inspect-untunnelled",
        action="store_true",
        help="treat frames outside any tunnel as VM traffic (plain SPAN mirrors)",
    )
    r.add_argument(
        "--strict",
        action="store_true",
        help="a port with no binding yet is reported as unbound-source, not unlearned",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar and no summary")

    d = sub.add_parser("decode", help="one line per decapsulated inner frame, for debugging")
    d.add_argument("captures", nargs="+", metavar="CAPTURE")
    d.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    d.add_argument("--config", metavar="FILE", help="TOML configuration (tunnel ports)")

    f = sub.add_parser(
        "flows",
        help="every IPFIX / NetFlow v9 record, for debugging",
        description="Decode IPFIX and NetFlow v9 from captures (UDP to "
        "decode.ipfix_ports) or raw IPFIX message files; one JSON line a record.",
    )
    f.add_argument("captures", nargs="+", metavar="FILE")
    f.add_argument("--config", metavar="FILE", help="TOML configuration (IPFIX ports)")

    x = sub.add_parser(
        "explain",
        help="Wireshark's full dissection of each alert's packet",
        description="For each alert (JSON lines from replay), dissect the packet "
        "its evidence names with tshark (via pyshark), every layer shown.",
    )
    x.add_argument("alerts", metavar="ALERTS", help="alerts file (JSON lines), or - for stdin")
    x.add_argument(
        "--base",
        default=".",
        metavar="DIR",
        help="directory the captures' relative paths start from (default: here)",
    )
    x.add_argument("--limit", type=int, default=20, metavar="N", help="explain at most N alerts")
    x.add_argument("--config", metavar="FILE", help="TOML configuration (tunnel ports)")

    c = sub.add_parser("check-config", help="validate a configuration file and exit")
    c.add_argument("file", metavar="FILE")

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

    b = sub.add_parser("bindings", help="list, export or import the persisted binding table")
    b.add_argument("action", choices=["list", "export", "import"])
    b.add_argument("file", nargs="?", metavar="FILE", help="for import: a CSV from export")
    b.add_argument("--state", metavar="FILE", required=True, help="the state file (state.path)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="spoofwatch: %(levelname)s: %(message)s",
    )
    try:
        if args.command == "replay":
            return _replay(args)
        if args.command == "decode":
            from detector.framedump import run as decode

            return decode(args, _load_config(args.config))
        if args.command == "explain":
            from detector.explain import run as explain

            return explain(args, _load_config(args.config))
        if args.command == "flows":
            from detector.framedump import run_flows

            return run_flows(args, _load_config(args.config))
        if args.command == "run":
            return _run(args)
        if args.command == "bindings":
            from detector.bindings_cmd import run as bindings

            if args.action == "import" and not args.file:
                raise ConfigError("bindings import: name the CSV file to import")
            return bindings(args)
        return _check_config(args)
    except ConfigError as exc:
        print(f"spoofwatch: error: {exc}", file=sys.stderr)
        return 2
    except (CaptureError, SinkError, SpoofwatchError) as exc:
        print(f"spoofwatch: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (| head): not an error worth a traceback
        return 0
    except KeyboardInterrupt:
        print("spoofwatch: interrupted", file=sys.stderr)
        return 130


def _load_config(path: str | None) -> Config:
    from detector import config

    return config.load(path) if path else config.Config()


def _check_config(args: argparse.Namespace) -> int:
    from detector.bindings import manual

    cfg = _load_config(args.file)
    if cfg.bindings_file:
        manual.load(cfg.bindings_file)
    print(f"{args.file}: ok")
    return 0


def _run(args: argparse.Namespace) -> int:
    from detector.daemon import Daemon, setup_logging

    cfg = _load_config(args.config)
    if args.check_config:
        print(f"{args.config}: ok")
        return 0
    setup_logging(cfg.run.log_format, cfg.run.log_level)
    return Daemon(args.config, reset_state=args.reset_state).run()


def _replay(args: argparse.Namespace) -> int:
    import dataclasses

    from detector.pipeline import Pipeline
    from detector.sinks.jsonl import JsonlSink
    from detector.sinks.text import TextSink
    from detector.summary import ProgressBar, render

    cfg = _load_config(args.config)
    engine = cfg.engine
    if args.inspect_untunnelled:
        engine = dataclasses.replace(engine, inspect_untunnelled=True)
    if args.strict:
        engine = dataclasses.replace(engine, strict=True)
    cfg = dataclasses.replace(
        cfg,
        engine=engine,
        bindings_file=args.bindings or cfg.bindings_file,
        alerts_path=args.alerts or cfg.alerts_path,
    )
    sink = TextSink(cfg.alerts_path) if args.format == "text" else JsonlSink(cfg.alerts_path)
    try:
        pipeline = Pipeline(cfg, sink)
        bar = ProgressBar() if sys.stderr.isatty() and not args.quiet else None
        report = pipeline.replay(args.captures, bar)
        if bar is not None:
            bar.done()
    finally:
        sink.close()
    if not args.quiet:
        print(
            render(report.captures, pipeline.stats, pipeline.engine, report.seconds),
            file=sys.stderr,
        )
    for failure in report.failures:
        print(f"spoofwatch: error: {failure}", file=sys.stderr)
    return 1 if report.failures else 0
