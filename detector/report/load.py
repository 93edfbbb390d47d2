"""Reading a report's inputs into pandas: alerts (JSON lines), a timeline, an NSX snapshot."""

from __future__ import annotations

import codecs
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from detector.errors import ReportError
from detector.tables import (
    TIMELINE_FORMAT,
    TIMELINE_META_KEY,
    TIMELINE_NAMES,
    TIMELINE_VERSION,
    timeline_meta_path,
)

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
    """Alerts from a JSON-lines file (time fields kept as the alert's RFC 3339 text); a line
    that is not an alert names its number."""
    if path != "-":
        fast = _alerts_arrow(path)
        if fast is not None:
            return fast
    return _alerts_python(path, progress)


def _alerts_arrow(path: str) -> pd.DataFrame | None:
    """Arrow's multi-threaded JSON reader, for files it can vouch for line by line; None sends
    the file to the line-by-line reader, which names what is wrong and where."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    text = pa.string()
    schema = pa.schema(
        [
            ("event_type", text),
            *((name, text) for name in ("kind", "severity", "segment", "mac", "src_ip")),
            ("vni", pa.int64()),
            ("first_seen", text),
            ("count", pa.int64()),
            ("bindings", pa.list_(pa.struct([("address", text)]))),
            ("impersonates", pa.struct([("mac", text), ("address", text)])),
            ("evidence", pa.struct([("file", text), ("packet", pa.int64()), ("time", text)])),
            ("message", text),
        ]
    )
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        with open(path, "rb") as f:
            data = f.read()
        table = pj.read_json(pa.BufferReader(data), parse_options=options)
    except (OSError, pa.ArrowInvalid):
        return None
    if not _utf8(data):
        return None  # JSON is UTF-8: the line reader names the line that is not
    lines = data.count(b"\n") + (not data.endswith(b"\n") and bool(data))
    required = ("kind", "severity", "segment", "mac")
    if (
        table.num_rows != lines
        or pc.any(pc.not_equal(table["event_type"], "alert")).as_py()
        or table["event_type"].null_count
        or any(table[c].null_count for c in required)
    ):
        return None  # blank lines, or something that is not an alert: let the other reader say
    try:
        return _typed(_frame(table))
    except (pa.ArrowException, UnicodeDecodeError):  # bad UTF-8: the line reader says where
        return None


def _utf8(data: bytes, chunk: int = 1 << 24) -> bool:
    """Is the whole file UTF-8 (checked a chunk at a time, not copied whole)?"""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), chunk):
            decoder.decode(data[start : start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _frame(table: Any) -> pd.DataFrame:
    """The alert columns of Arrow's table."""
    flat = table.flatten()
    bound = _bound(table["bindings"].combine_chunks())
    frame = pd.DataFrame(
        {c: flat[c].to_pandas() for c in ALERT_COLUMNS if c not in ("bound", "line")}
    )
    frame["bound"] = bound
    frame["line"] = range(1, table.num_rows + 1)
    frame["count"] = frame["count"].fillna(1)
    frame["message"] = frame["message"].fillna("")
    return frame


def _bound(bindings: Any) -> Any:
    """Each alert's bound addresses, space-separated (one binding per alert is the rule, so
    only the exceptions are joined in Python)."""
    import numpy as np
    import pyarrow.compute as pc

    offsets = bindings.offsets.to_numpy()
    address = pc.struct_field(bindings.values, "address").to_numpy(zero_copy_only=False)
    lengths = np.diff(offsets)
    out = np.full(len(lengths), "", dtype=object)
    one = lengths == 1
    out[one] = address[offsets[:-1][one]]
    out[out == None] = ""  # noqa: E711 - a binding without an address: elementwise, not identity
    spaced = pc.match_substring_regex(pc.struct_field(bindings.values, "address"), r"\s")
    rows = np.searchsorted(offsets, np.flatnonzero(spaced.fill_null(False).to_numpy()), "right")
    for i in np.union1d(np.flatnonzero(lengths > 1), rows - 1):  # joined, or odd whitespace
        out[i] = " ".join(
            " ".join(str(a) for a in address[offsets[i] : offsets[i + 1]] if a).split()
        )
    return out


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The same column order and types whichever reader made the frame."""
    frame = frame[list(ALERT_COLUMNS)]
    numbers = {"vni": "Int64", "count": "int64", "evidence.packet": "Int64", "line": "int64"}
    texts = {c: "str" for c in ALERT_COLUMNS if c not in numbers}  # missing: NaN, not None
    return frame.astype({**numbers, **texts})


def _alerts_python(path: str, progress: bool) -> pd.DataFrame:
    rows: list[tuple[Any, ...]] = []
    try:
        f = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise ReportError(f"cannot read the alerts {path}: {exc.strerror}") from exc
    bar = _bar(path, progress)
    with f:
        for n, raw in enumerate(f, 1):
            if bar is not None:
                bar.update(len(raw))
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ReportError(f"{path} line {n}: not UTF-8 text") from exc
            if line.strip():
                rows.append(_alert_row(path, n, line))
    if bar is not None:
        bar.close()
    return _typed(pd.DataFrame(rows, columns=list(ALERT_COLUMNS)))


def times(column: pd.Series) -> pd.Series:
    """RFC 3339 text as UTC timestamps (NaT where it is not one)."""
    return pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")


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
        ev, imp = _part(a, "evidence"), _part(a, "impersonates")
        bindings = a.get("bindings") or []
        if not isinstance(bindings, list) or not all(isinstance(b, dict) for b in bindings):
            raise ValueError("'bindings'")
        bound = " ".join(_field(b, "address", str) or "" for b in bindings)
        count = _field(a, "count", int)
        return (
            *(_field(a, key, str, required=True) for key in ("kind", "severity", "segment")),
            _field(a, "vni", int),
            _field(a, "mac", str, required=True),
            _field(a, "src_ip", str),
            _field(a, "first_seen", str),
            1 if count is None else count,
            " ".join(bound.split()),
            _field(imp, "mac", str),
            _field(imp, "address", str),
            _field(ev, "file", str),
            _field(ev, "packet", int),
            _field(ev, "time", str),
            _field(a, "message", str) or "",
            n,
        )
    except (KeyError, ValueError) as exc:
        raise ReportError(f"{path} line {n}: an alert without a valid {exc}") from exc


def _part(a: dict[str, Any], key: str) -> dict[str, Any]:
    value = a.get(key) or {}
    if not isinstance(value, dict):
        raise ValueError(repr(key))
    return value


def _field(a: dict[str, Any], key: str, kind: type, required: bool = False) -> Any:
    """A field of the type the schema gives it (None when absent and not required)."""
    value = a.get(key)
    if value is None:
        if required:
            raise KeyError(key)
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(repr(key))
    return value


def timeline(path: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A timeline (Parquet, or CSV with FILE.meta.json) and its metadata, version checked."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            meta = _meta(timeline_meta_path(path).read_bytes(), path)
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
    except (ValueError, KeyError, TypeError, IndexError, NotImplementedError) as exc:
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
