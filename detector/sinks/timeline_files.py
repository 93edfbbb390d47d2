"""Timeline files: Parquet (pyarrow, metadata inside) or CSV (metadata in FILE.meta.json)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from detector.errors import SinkError
from detector.tables import (
    TIMELINE_FORMAT,
    TIMELINE_META_KEY,
    TIMELINE_NAMES,
    TIMELINE_VERSION,
    timeline_meta_path,
)

ROW_GROUP = 1 << 16  # rows buffered before a Parquet row group is written

Rows = dict[str, Any]


def _schema() -> Any:
    import pyarrow as pa

    text, count = pa.string(), pa.int64()
    types = {
        "time": pa.timestamp("ns", tz="UTC"),
        "packets": count,
        "bytes": count,
        "destinations": count,
        "unbound_packets": count,
        "bound": pa.bool_(),
    }
    return pa.schema([(name, types.get(name, text)) for name in TIMELINE_NAMES])


class TimelineWriter:
    """One timeline file, written as rows arrive; `close` adds what the run saw as metadata."""

    def __init__(self, path: str | Path, bucket_seconds: float) -> None:
        self.path = Path(path)
        self.csv = self.path.suffix.lower() == ".csv"
        self.bucket_seconds = bucket_seconds
        self.rows = 0
        self.bytes = 0
        self._buffer: list[Any] = []
        self._buffered = 0
        self._writer: Any = None
        try:
            self._open()
        except OSError as exc:
            raise SinkError(f"cannot write the timeline {path}: {exc.strerror or exc}") from exc

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.csv:
            with self.path.open("w", encoding="utf-8") as f:
                f.write(",".join(TIMELINE_NAMES) + "\n")
            return
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(str(self.path), _schema(), compression="zstd")

    def write(self, rows: Rows) -> None:
        import pyarrow as pa

        table = pa.table({n: rows[n] for n in TIMELINE_NAMES}, schema=_schema())
        self.rows += table.num_rows
        self._buffer.append(table)
        self._buffered += table.num_rows
        if self._buffered >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        import pyarrow as pa

        table = pa.concat_tables(self._buffer)
        self._buffer, self._buffered = [], 0
        try:
            if self.csv:
                import pyarrow.csv as pcsv

                with self.path.open("ab") as f:
                    options = pcsv.WriteOptions(include_header=False)
                    pcsv.write_csv(table, f, write_options=options)
            else:
                self._writer.write_table(table)
        except OSError as exc:
            raise SinkError(f"cannot write the timeline {self.path}: {exc}") from exc

    def close(self, meta: dict[str, Any]) -> None:
        """Write what is buffered and the metadata (format, version, bucket, what was seen)."""
        self._flush()
        doc = {
            "format": TIMELINE_FORMAT,
            "version": TIMELINE_VERSION,
            "bucket_seconds": self.bucket_seconds,
            "rows": self.rows,
            **meta,
        }
        text = json.dumps(doc, separators=(",", ":"))
        try:
            if self.csv:
                timeline_meta_path(self.path).write_text(text, encoding="utf-8")
            else:
                self._writer.add_key_value_metadata({TIMELINE_META_KEY: text.encode()})
                self._writer.close()
        except OSError as exc:
            raise SinkError(f"cannot finish the timeline {self.path}: {exc}") from exc
        self.bytes = self.path.stat().st_size


class RotatingTimeline:
    """`spoofwatch run`'s timeline: a new file every `rotate_seconds`, the oldest deleted while
    the directory holds more than `max_bytes` of timelines."""

    PATTERN = "timeline-*.parquet"

    def __init__(
        self,
        directory: str,
        bucket_seconds: float,
        rotate_seconds: float,
        max_bytes: int,
        meta: Callable[[], dict[str, Any]],
    ) -> None:
        self.dir = Path(directory)
        self.bucket_seconds = bucket_seconds
        self.rotate_seconds = rotate_seconds
        self.max_bytes = max_bytes
        self.meta = meta  # what the run saw, asked for when a file is closed
        self.deleted = 0
        self._current: TimelineWriter | None = None
        self._opened = 0.0

    def tick(self) -> None:
        """Close the current file once it is `rotate_seconds` old (also when no rows come)."""
        if self._current is not None and time.time() - self._opened >= self.rotate_seconds:
            self.close()

    def write(self, rows: Rows) -> None:
        self.tick()
        now = time.time()
        if self._current is None:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
            path = self.dir / f"timeline-{stamp}-{os.getpid()}.parquet"
            self._current, self._opened = TimelineWriter(path, self.bucket_seconds), now
        self._current.write(rows)

    def close(self) -> None:
        if self._current is None:
            return
        self._current.close(self.meta())
        self._current = None
        self._prune()

    def _prune(self) -> None:
        files = sorted(self.dir.glob(self.PATTERN), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        while files and total > self.max_bytes:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
            self.deleted += 1
