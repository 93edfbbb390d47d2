"""Reading a report's inputs into pandas: alerts (JSON lines), a timeline, an NSX snapshot."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from detector.errors import ReportError
from detector.tables import TIMELINE_FORMAT, TIMELINE_META_KEY, TIMELINE_NAMES, TIMELINE_VERSION

# The alert columns, named as the alert's JSON fields (nested ones flattened with a dot).
ALERT_COLUMNS = (
    "kind",
    "severity",
    "segment",
    "vni",
    "mac",
    "src_ip",
    "first_seen",
    "count",
    "bound",
    "impersonates.mac",
    "impersonates.address",
    "evidence.file",
    "evidence.packet",
    "evidence.time",
    "message",
    "line",
)


@dataclass
class Inputs:
    """Everything a report is made from; the optional parts are empty when not given."""

    alerts: pd.DataFrame
    timeline: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TIMELINE_NAMES))
    meta: dict[str, Any] = field(default_factory=dict)
    nsx: pd.DataFrame = field(default_factory=pd.DataFrame)
    nsx_source: str = ""


def alerts(path: str, progress: bool = False) -> pd.DataFrame:
    """Alerts from a JSON-lines file; a line that is not an alert names its number."""
    rows: list[tuple[Any, ...]] = []
    try:
        f = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise ReportError(f"cannot read the alerts {path}: {exc.strerror}") from exc
    bar = _bar(path, progress)
    with f:
        for n, line in enumerate(f, 1):
            if bar is not None:
                bar.update(len(line))
            if line.strip():
                rows.append(_alert_row(path, n, line))
    if bar is not None:
        bar.close()
    frame = pd.DataFrame(rows, columns=list(ALERT_COLUMNS))
    for col in ("first_seen", "evidence.time"):
        frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce", format="ISO8601")
    return frame


def _bar(path: str, progress: bool) -> Any:
    if not progress or path == "-":
        return None
    from tqdm import tqdm

    size = Path(path).stat().st_size
    return tqdm(total=size, unit="B", unit_scale=True, desc="alerts", leave=False)


def _alert_row(path: str, n: int, line: str) -> tuple[Any, ...]:
    try:
        a = json.loads(line)
    except ValueError as exc:
        raise ReportError(f"{path} line {n}: not JSON ({getattr(exc, 'msg', exc)})") from exc
    if not isinstance(a, dict) or a.get("event_type") != "alert":
        raise ReportError(f"{path} line {n}: not a spoofwatch alert (no event_type: alert)")
    try:
        ev, imp = a.get("evidence") or {}, a.get("impersonates") or {}
        bound = " ".join(str(b["address"]) for b in a.get("bindings") or ())
        return (
            str(a["kind"]),
            str(a["severity"]),
            str(a["segment"]),
            a.get("vni"),
            str(a["mac"]),
            a.get("src_ip"),
            a.get("first_seen"),
            int(a.get("count") or 1),
            bound,
            imp.get("mac"),
            imp.get("address"),
            ev.get("file"),
            ev.get("packet"),
            ev.get("time"),
            str(a.get("message", "")),
            n,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path} line {n}: an alert without a valid {exc}") from exc


def timeline(path: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A timeline (Parquet, or CSV with FILE.meta.json) and its metadata, version checked."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            meta = _meta(Path(f"{path}.meta.json").read_bytes(), path)
            frame = pd.read_csv(p, keep_default_na=False, na_values={"src_ip": [""]})
            frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
        else:
            import pyarrow.parquet as pq

            f = pq.ParquetFile(p)
            raw = (f.metadata.metadata or {}).get(TIMELINE_META_KEY)
            meta = _meta(raw, path)
            frame = f.read().to_pandas()
    except OSError as exc:
        raise ReportError(f"cannot read the timeline {path}: {exc}") from exc
    except (ValueError, KeyError) as exc:  # pyarrow's and pandas' "not this format" errors
        raise ReportError(f"{path}: not a readable timeline ({exc})") from exc
    missing = [c for c in TIMELINE_NAMES if c not in frame.columns]
    if missing:
        raise ReportError(f"{path}: the timeline lacks the columns {', '.join(missing)}")
    return frame, meta


def _meta(raw: bytes | None, path: str) -> dict[str, Any]:
    if raw is None:
        raise ReportError(f"{path}: not a spoofwatch timeline (no {TIMELINE_FORMAT} metadata)")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise ReportError(f"{path}: the timeline's metadata is not JSON") from exc
    if not isinstance(meta, dict) or meta.get("format") != TIMELINE_FORMAT:
        raise ReportError(f"{path}: not a spoofwatch timeline")
    if meta.get("version") != TIMELINE_VERSION:
        raise ReportError(
            f"{path}: timeline schema version {meta.get('version')!r}; this spoofwatch reads"
            f" version {TIMELINE_VERSION} (write it again with this version's replay --timeline)"
        )
    return meta


def nsx_snapshot(path: str) -> tuple[pd.DataFrame, str]:
    """NSX's realized bindings from a snapshot: one row per (segment, MAC, address)."""
    from detector.nsx import realized, snapshot

    doc = snapshot.load(path)  # a ConfigError naming the file when it is not a snapshot
    rows = [
        (port.segment or port.segment_path, b.mac, b.address, b.source)
        for port in realized.ports(doc)
        for b in port.realized + port.manual
    ]
    frame = pd.DataFrame(rows, columns=["segment", "mac", "address", "source"])
    return frame, f"{doc.get('manager')} as of {doc.get('pulled_at')}"
