"""Alerts for a person to read: one short block per alert, built from the same JSON as jsonl."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO

from detector.errors import SinkError
from detector.model import Alert
from detector.sinks.jsonl import alert_to_dict


def render(a: Alert) -> str:
    """Format one alert as a few indented lines."""
    d = alert_to_dict(a)
    lines = [
        f"[{d['severity'].upper()}] {d['kind']}  {d['segment']}  {d['mac']}"
        + (f"  src {d['src_ip']}" if d["src_ip"] else ""),
        f"  {d['message']}",
        f"  first seen {d['first_seen']} in {d['evidence']['file']}"
        f" packet {d['evidence']['packet']}",
    ]
    for b in d["bindings"]:
        when = f" at {b['learned_at']} (packet {b['evidence']['packet']})" if b["evidence"] else ""
        lines.append(f"  bound: {b['address']} learned by {b['method']}{when}")
    if not d["bindings"]:
        lines.append("  bound: nothing yet")
    if d["impersonates"]:
        i = d["impersonates"]
        lines.append(f"  impersonates: {i['mac']}, bound to {i['address']} by {i['method']}")
    for key, value in d["detail"].items():
        lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"


class TextSink:
    """Write readable alert blocks to a path or standard output."""

    name = "text"

    def __init__(self, path: str = "-") -> None:
        self.path = path
        try:
            self._out: IO[str] = (
                sys.stdout if path == "-" else open(path, "w", encoding="utf-8")  # noqa: SIM115
            )
        except OSError as exc:
            raise SinkError(f"alerts file {path}: {exc.strerror}") from exc

    def emit(self, alerts: Sequence[Alert]) -> None:
        if alerts:
            self._out.write("".join(render(a) + "\n" for a in alerts))
            self._out.flush()

    def close(self) -> None:
        if self._out is not sys.stdout:
            self._out.close()
