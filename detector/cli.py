"""The `spoofwatch` command: the top parser, logging, exit codes (0 ok, 1 input, 2 config)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from detector import __version__
from detector.commands import register_all
from detector.errors import CaptureError, ConfigError, SinkError, SpoofwatchError

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
  spoofwatch replay incident.pcap --alerts a.jsonl --timeline t.parquet
  spoofwatch report --alerts a.jsonl --timeline t.parquet --out report/
      a forensic report: incidents, per-port plots, tables (report/report.html, CSVs)
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
    register_all(sub)
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
        status: int = args.run(args)
        return status
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
