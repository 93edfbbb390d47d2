"""`spoofwatch report`: HTML, CSV and Parquet from a replay's alerts and timeline."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser(
        "report",
        help="forensic report: incidents, per-port timelines and tables as HTML and CSV",
        description="Build a report from the alerts of a replay (and its --timeline, and an NSX"
        " snapshot): OUT/report.html, one self-contained page for a person, and alerts.csv,"
        " alerts.parquet and ports.csv for a notebook.",
        epilog="example: spoofwatch replay CAPTURE --alerts a.jsonl --timeline t.parquet &&"
        " spoofwatch report --alerts a.jsonl --timeline t.parquet --out report/",
    )
    r.add_argument(
        "--alerts", required=True, metavar="FILE", help="alerts (JSON lines) of replay or run"
    )
    r.add_argument(
        "--timeline", metavar="FILE", help="the timeline of the same replay (.parquet or .csv)"
    )
    r.add_argument(
        "--nsx-snapshot", metavar="FILE", help="NSX's realized bindings, shown beside the table"
    )
    r.add_argument("--out", required=True, metavar="DIR", help="directory to write the report into")
    r.add_argument(
        "--top", type=int, default=12, metavar="N", help="plot the worst N ports (default 12)"
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    r.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from detector import report
    from detector.report import load

    progress = sys.stderr.isatty() and not args.quiet
    inputs = load.Inputs(load.alerts(args.alerts, progress))
    if args.timeline:
        inputs.timeline, inputs.meta = load.timeline(args.timeline)
    if args.nsx_snapshot:
        inputs.nsx, inputs.nsx_source = load.nsx_snapshot(args.nsx_snapshot)
    done = report.build(inputs, args.out, args.alerts, max(1, args.top))
    if not args.quiet:
        print(
            f"spoofwatch: report in {done.directory}/report.html: {done.alerts:,} alerts,"
            f" {done.incidents:,} offending ports, {done.plots} plots"
            " (alerts.csv, alerts.parquet, ports.csv beside it)",
            file=sys.stderr,
        )
    return 0
