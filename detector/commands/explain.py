"""`spoofwatch explain`: Wireshark's dissection (tshark via pyshark) of each alert's packet.

An analyst reads an alert, then wants every layer of the packet behind it: the outer tunnel,
the Geneve options, the inner frame. The evidence names the capture and the packet number;
live and IPFIX evidence has no capture to open and is said so.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from detector.errors import CaptureError, ConfigError

if TYPE_CHECKING:
    from detector.config.settings import Config


def _alerts(source: str) -> list[dict[str, Any]]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"alerts file {source}: {exc.strerror}") from exc
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            alert = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"alerts file {source} line {number}: not JSON ({exc.msg})") from exc
        if isinstance(alert, dict) and alert.get("event_type") == "alert":
            out.append(alert)
    return out


def _decode_as(config: Config) -> dict[str, str]:
    """Tell Wireshark about the tunnel and flow ports it does not decode by default."""
    d = config.decode
    rules = {f"udp.port=={p}": "geneve" for p in d.geneve_ports if p != 6081}
    rules.update({f"udp.port=={p}": "vxlan" for p in d.vxlan_ports if p != 4789})
    rules.update({f"udp.port=={p}": "cflow" for p in d.ipfix_ports if p != 4739})
    return rules


def explain(alert: dict[str, Any], base: Path, config: Config, out: TextIO) -> None:
    """Print one alert's headline and the full dissection of its packet."""
    import pyshark

    ev = alert["evidence"]
    out.write(
        f"== {alert['kind']} {alert['segment']} {alert['mac']} {alert['src_ip'] or ''}"
        f"  ({ev['file']} packet {ev['packet']})\n   {alert['message']}\n"
    )
    path = Path(ev["file"]) if Path(ev["file"]).is_absolute() else base / ev["file"]
    if ev["file"].startswith(("live:", "udp:", "ipfix:")) or not path.is_file():
        out.write(
            f"   no capture to dissect ({ev['file']}): keep a rotating capture beside"
            " `spoofwatch run` to have one\n\n"
        )
        return
    cap = pyshark.FileCapture(
        str(path),
        display_filter=f"frame.number == {ev['packet']}",
        decode_as=_decode_as(config),
        keep_packets=False,
    )
    try:
        for packet in cap:
            for layer in packet.layers:
                out.write(str(layer).replace("\n:\t", ":\n\t", 1))  # "Layer UDP:" on one line
    finally:
        cap.close()
    out.write("\n")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    x.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from detector.config.settings import load_or_default

    config = load_or_default(args.config)
    if shutil.which("tshark") is None:
        raise CaptureError("explain needs tshark (Wireshark's command line): apt install tshark")
    alerts = _alerts(args.alerts)
    if not alerts:
        print(f"spoofwatch explain: no alerts in {args.alerts}", file=sys.stderr)
        return 0
    base = Path(args.base)
    for alert in alerts[: args.limit]:
        explain(alert, base, config, sys.stdout)
    return 0
