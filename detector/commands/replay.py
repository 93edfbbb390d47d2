"""`spoofwatch replay`: forensic replay of captures through one binding table; alerts out."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING

from detector.errors import ConfigError

if TYPE_CHECKING:
    from detector.detectors.engine import AlertKey


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        choices=["jsonl", "ecs", "text"],
        help="jsonl (the contract, for machines), ecs (Elastic Common Schema 8, for SIEMs) or"
        " text (for people); default: alerts.format of the config, else jsonl",
    )
    r.add_argument(
        "--no-sinks",
        action="store_true",
        help="write the alerts file only: push nothing to the [sinks.*] of the config"
        " (Alertmanager, syslog), e.g. when replaying an old capture with a production config",
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
    r.add_argument(
        "--nsx-snapshot",
        metavar="FILE",
        help="judge against NSX's realized bindings in a snapshot (spoofwatch nsx snapshot);"
        " without it, a config with [nsx] pulls from the manager once at start",
    )
    r.add_argument(
        "--timeline",
        metavar="FILE",
        help="also write per-port activity per time bucket: FILE.parquet, or FILE.csv"
        " (read by spoofwatch report, pandas or any Parquet reader)",
    )
    r.add_argument(
        "--bucket",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="the timeline's time bucket (default 1 s)",
    )
    r.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="use N cores (for archives of large captures). 2: reading and decoding run on"
        " threads of their own, ahead of the judging. 3 or more: one process reads and decodes"
        " each batch once, and N - 1 processes judge a share of the segments each (this pays"
        " when judging is most of the work, e.g. flow records; not with --timeline). Every"
        " segment is still judged in capture order: the alerts are those of --jobs 1, in its"
        " order",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    r.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.001 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"expected seconds from 0.001 to 86400, got {text!r}")
    return value


def _jobs(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(f"expected 1 to 256 processes, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from detector.commands.summary import ProgressBar, nsx_line, nsx_state, render, wire_lines
    from detector.config.settings import load_or_default
    from detector.runners.pipeline import Pipeline
    from detector.sinks.fanout import Fanout, alerts_file, network_sinks

    cfg = load_or_default(args.config)
    judged = cfg.engine
    if args.inspect_untunnelled:
        judged = dataclasses.replace(judged, inspect_untunnelled=True)
    if args.strict:
        judged = dataclasses.replace(judged, strict=True)
    cfg = dataclasses.replace(
        cfg,
        engine=judged,
        bindings_file=args.bindings or cfg.bindings_file,
        alerts_path=args.alerts or cfg.alerts_path,
    )
    if args.jobs > 2 and args.timeline:
        raise ConfigError(
            "--timeline is written by one process: use --jobs 2 at most, or drop --timeline"
        )
    nsx = nsx_state(args.nsx_snapshot, cfg.nsx, args.quiet)
    writer = timeline = None
    if args.timeline:
        from detector.fast.timeline.thread import BackgroundTimeline
        from detector.sinks.timeline_files import TimelineWriter

        writer = TimelineWriter(args.timeline, args.bucket)
        timeline = BackgroundTimeline(writer.write, args.bucket)
    sink = alerts_file(args.format or cfg.alerts_format, cfg.alerts_path)
    if not args.no_sinks:
        sink = Fanout(sink, network_sinks(cfg.sinks))
    try:
        bar = ProgressBar() if sys.stderr.isatty() and not args.quiet else None
        if args.jobs > 2:
            from detector.runners import parallel

            done = parallel.replay(cfg, args.captures, args.jobs - 1, sink, nsx, bar)
            if bar is not None:
                bar.done()
            report, stats, engine, imported = done.report, done.decode, done.engine, done.nsx
            tallies: dict[AlertKey, int] | None = done.tallies
            wire = None
        else:
            pipeline = Pipeline(cfg, sink, nsx, timeline)
            report = pipeline.replay(args.captures, bar, ahead=args.jobs == 2)
            if bar is not None:
                bar.done()
            if writer is not None:
                writer.close(pipeline.timeline_meta(report.captures))
            stats, engine, imported, tallies = pipeline.stats, pipeline.engine, pipeline.nsx, None
            wire = pipeline.wire
    finally:
        sink.close()
    if not args.quiet:
        print(
            render(report.captures, stats, engine, report.seconds, tallies=tallies),
            file=sys.stderr,
        )
        if nsx is not None and imported is not None:
            print(nsx_line(nsx, imported), file=sys.stderr)
            for line in wire_lines(wire):
                print(line, file=sys.stderr)
        if writer is not None:
            print(f"  timeline: {writer.rows:,} rows in {args.timeline}", file=sys.stderr)
        for stats in getattr(sink, "stats", []):
            print(f"  delivered to {stats.line()}", file=sys.stderr)
    for failure in report.failures:
        print(f"spoofwatch: error: {failure}", file=sys.stderr)
    return 1 if report.failures else 0
