"""`spoofwatch report`: alerts, a timeline and an NSX snapshot made into HTML and CSV with pandas.

The package reads files only; from the detection stages it knows nothing but the file formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from detector.errors import ReportError
from detector.report import html, incidents, plots
from detector.report.load import Inputs, times


@dataclass(frozen=True)
class Written:
    """What a report wrote, for the command's summary."""

    directory: Path
    incidents: int
    plots: int
    alerts: int


def build(inp: Inputs, out: str, alerts_path: str, top: int = 12) -> Written:
    """Write report.html, alerts.csv, alerts.parquet and ports.csv into `out`."""
    directory = Path(out)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report directory {out}: {exc.strerror}") from exc
    head = incidents.headline(inp)
    table = incidents.incidents(inp)
    figures = plots.incident_plots(table, inp.timeline, inp.meta, top)
    bindings = incidents.bindings(inp.meta)
    total = int(inp.meta.get("bindings_total", len(bindings)))
    errors = incidents.decode_errors(inp.meta)
    sections = {
        "alert_count": len(inp.alerts),
        "more_ports": max(0, len(table) - 200),
        "has_timeline": bool(inp.meta),
        "bindings": bindings,
        "bindings_more": max(0, total - len(bindings)),
        "bindings_note": "not known: give the timeline of the replay (--timeline)"
        if not inp.meta
        else "the table was empty",
        "nsx": inp.nsx if inp.nsx_source else None,
        "nsx_source": inp.nsx_source,
        "errors": errors,
        "errors_note": "not known: give the timeline of the replay (--timeline)"
        if not inp.meta
        else "none: every packet decoded",
        "alerts": inp.alerts,
        "alerts_path": alerts_path,
    }
    page = html.document(head, table.head(200), figures, sections)
    try:
        (directory / "report.html").write_text(page, encoding="utf-8")
        _tables(inp.alerts.drop(columns=["line"]), table, directory)
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc.strerror}") from exc
    return Written(directory, len(table), len(figures), len(inp.alerts))


def _tables(alerts: pd.DataFrame, ports: pd.DataFrame, directory: Path) -> None:
    """alerts.csv (times as the alerts wrote them), alerts.parquet (typed) and ports.csv, by
    Arrow's writers: a million rows in a second or two."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    quote = pcsv.WriteOptions(quoting_style="needed")
    pcsv.write_csv(
        pa.Table.from_pandas(alerts, preserve_index=False), directory / "alerts.csv", quote
    )
    typed = alerts.assign(
        first_seen=times(alerts["first_seen"]), **{"evidence.time": times(alerts["evidence.time"])}
    )
    pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), directory / "alerts.parquet")
    pcsv.write_csv(
        pa.Table.from_pandas(ports, preserve_index=False), directory / "ports.csv", quote
    )
