"""The report as one self-contained HTML file: inline CSS and PNG images, no script, no network."""

from __future__ import annotations

import base64
import shlex
from html import escape
from typing import Any

import pandas as pd

from detector.report.incidents import Headline

MAX_ALERT_ROWS = 1000  # the rest are in alerts.csv

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right}.crit{color:#b03a2e;font-weight:600}
.note{color:#666}.figure{margin:1em 0}code{background:#f6f6f6;padding:1px 3px}
.headline td:first-child{font-weight:600}
"""


def document(
    head: Headline,
    incidents: pd.DataFrame,
    plots: list[tuple[pd.Series, bytes]],
    sections: dict[str, Any],
) -> str:
    """The whole page."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " img-src data:; style-src 'unsafe-inline'\">",
        f"<title>spoofwatch report</title><style>{STYLE}</style></head><body>",
        "<h1>spoofwatch forensic report</h1>",
        _headline(head, sections),
        "<h2>Incidents</h2>",
        _incidents(incidents, sections["more_ports"]),
        "<h2>Activity of the offending ports</h2>",
        _plots(plots, incidents, sections),
        "<h2>Binding table as the replay ended</h2>",
        _table(sections["bindings"], "bindings", sections["bindings_note"]),
    ]
    if sections["bindings_more"]:
        more = sections["bindings_more"]
        parts.append(f'<p class="note">and {more:,} more, not kept in the timeline\'s metadata</p>')
    if sections.get("nsx") is not None:
        parts += [
            f"<h2>Binding table as NSX had it ({escape(sections['nsx_source'])})</h2>",
            _table(sections["nsx"], "nsx-bindings", "the snapshot holds no realized bindings"),
        ]
    parts += [
        "<h2>Decode errors and frames not inspected</h2>",
        _table(sections["errors"], "decode-errors", sections["errors_note"]),
        "<h2>Alerts</h2>",
        _alerts(sections["alerts"], sections["alerts_path"]),
        "</body></html>",
    ]
    return "\n".join(parts)


def _headline(head: Headline, sections: dict[str, Any]) -> str:
    span = "no traffic" if head.first is None else f"{_time(head.first)} to {_time(head.last)}"
    packets = "unknown (no timeline)" if head.packets is None else f"{head.packets:,}"
    rows = [
        ("Captures", ", ".join(head.captures) or "none named"),
        ("Time span", span),
        ("Packets", packets),
        ("Alerts", f"{sections['alert_count']:,}"),
    ]
    body = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    out = f'<table class="headline" id="headline">{body}</table>'
    if head.packets == 0 or head.first is None:
        out += '<p class="note" id="no-traffic">no traffic: nothing was seen to report on</p>'
    if len(head.by_kind):
        out += "<p>Alerts by kind and severity:</p>" + head.by_kind.to_html(
            table_id="alerts-by-kind", border=0
        )
    return out


def _incidents(incidents: pd.DataFrame, more: int) -> str:
    if not len(incidents):
        return '<p class="note" id="no-incidents">no port sent from an unbound address</p>'
    shown = incidents.assign(
        first_seen=incidents["first_seen"].map(_time), last_seen=incidents["last_seen"].map(_time)
    )
    note = f'<p class="note">{more:,} more ports are in ports.csv</p>' if more else ""
    return str(shown.to_html(index=False, table_id="incidents", border=0, na_rep="")) + note


def _plots(plots: list[tuple[pd.Series, bytes]], incidents: pd.DataFrame, s: dict[str, Any]) -> str:
    if not plots:
        why = (
            "no timeline was given (replay --timeline FILE)"
            if not s["has_timeline"]
            else (
                "no offending port" if not len(incidents) else "the timeline has no rows for them"
            )
        )
        return f'<p class="note" id="no-plots">no plots: {escape(why)}</p>'
    out = []
    for inc, png in plots:
        data = base64.b64encode(png).decode()
        alt = f"packets per second of {inc['mac']} in {inc['segment']} by source address"
        out.append(
            f'<div class="figure"><img class="port-plot" alt="{escape(alt)}"'
            f' src="data:image/png;base64,{data}"></div>'
        )
    if len(incidents) > len(plots):
        out.append(
            f'<p class="note">plots for the worst {len(plots)} ports; all are in ports.csv</p>'
        )
    return "\n".join(out)


def _table(frame: pd.DataFrame, table_id: str, empty: str) -> str:
    if not len(frame):
        return f'<p class="note" id="{table_id}-none">{escape(empty)}</p>'
    return str(frame.to_html(index=False, table_id=table_id, border=0, na_rep=""))


def _alerts(alerts: pd.DataFrame, path: str) -> str:
    if not len(alerts):
        return '<p class="note">no alerts</p>'
    cols = ["kind", "severity", "segment", "mac", "src_ip", "evidence.file", "evidence.packet"]
    rows = []
    shown = alerts[[*cols, "line"]].head(MAX_ALERT_ROWS)
    for *values, line in shown.itertuples(index=False, name=None):
        explain = f"sed -n {line}p {shlex.quote(path)} | spoofwatch explain -"
        cells = "".join(f"<td>{escape('' if pd.isna(v) else str(v))}</td>" for v in values)
        rows.append(f"<tr>{cells}<td><code>{escape(explain)}</code></td></tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("kind", "severity", "segment", "mac", "src_ip", "capture", "packet", "shown by")
    )
    more = len(alerts) - MAX_ALERT_ROWS
    note = f'<p class="note">{more:,} more alerts are in alerts.csv</p>' if more > 0 else ""
    return f'<table id="alerts"><tr>{head}</tr>{"".join(rows)}</table>{note}'


def _time(t: Any) -> str:
    if t is None or pd.isna(t):
        return ""
    return str(pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%S.%f"))[:-3] + " UTC"
