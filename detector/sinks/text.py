"""Alerts for a person to read: one short block per alert, built from the same JSON as jsonl."""

from __future__ import annotations

from detector.sinks.jsonl import JsonlSink, alert_to_dict
from detector.values import Alert


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
        how = b.get("learned_by") or b["method"]  # "nsx ARP_SNOOPING" when NSX realized it
        lines.append(f"  bound: {b['address']} learned by {how}{when}")
    if not d["bindings"]:
        lines.append("  bound: nothing yet")
    if d["impersonates"]:
        i = d["impersonates"]
        lines.append(f"  impersonates: {i['mac']}, bound to {i['address']} by {i['method']}")
    for key, value in d["detail"].items():
        lines.append(f"  {key}: {_plain(value)}")
    return "\n".join(lines) + "\n"


def _plain(value: object) -> str:
    """A detail value for people: lists joined by semicolons, objects as key=value."""
    if isinstance(value, list):
        return "; ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


class TextSink(JsonlSink):
    """Write readable alert blocks to a path or standard output."""

    name = "text"

    def render(self, alert: Alert) -> str:
        return render(alert) + "\n"
