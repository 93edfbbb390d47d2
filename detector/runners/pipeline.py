"""Wiring: captures → decoder → engine → sink, batch by batch, with progress and totals."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from detector.bindings import manual
from detector.bindings.table import BindingTable
from detector.bindings.wiremap import WireMap
from detector.config.anomaly import AnomalyConfig
from detector.config.settings import Config
from detector.decoders.chain import Decoder
from detector.detectors.engine import Engine
from detector.errors import CaptureError, ConfigError
from detector.fast.packets.columns import Columns
from detector.fast.packets.path import BatchPath
from detector.fast.timeline.path import Timeline
from detector.fast.windows.thread import BackgroundWindows
from detector.runners.ahead import Ahead
from detector.sinks import Sink
from detector.sinks.jsonl import binding_to_dict
from detector.sources.capture import CaptureFile, CaptureInfo
from detector.values import DecodeStats, PortKey, RecordBatch

if TYPE_CHECKING:  # imported where used: a replay without them never loads them
    from detector.bindings import nsx
    from detector.detectors.anomaly import Anomaly
    from detector.fast.windows.path import Windows
    from detector.nsx import realized

Progress = Callable[[CaptureInfo, int], None]
META_BINDINGS = 100_000  # the binding table kept in a timeline's metadata stops here


@dataclass(slots=True)
class RunReport:
    """What a replay saw, for the summary and the exit code."""

    captures: list[CaptureInfo] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Pipeline:
    """One binding table and one engine, fed by any number of captures in order."""

    def __init__(
        self,
        config: Config,
        sink: Sink,
        nsx_snapshot: dict[str, Any] | None = None,
        timeline: Timeline | None = None,
        windows: Windows | None = None,
    ):
        self.config = config
        self.sink = sink
        self.stats = DecodeStats()
        self.decoder = Decoder(config.decode, self.stats)
        self.table = BindingTable(config.policy)
        if config.bindings_file:
            manual.apply(self.table, manual.load(config.bindings_file))
        self.nsx: nsx.Imported | None = None
        self.wire = WireMap()  # NSX segments without a VNI, mapped by the MACs the wire shows
        self.engine = Engine(self.table, config.trust, config.engine)
        if nsx_snapshot is not None:
            self.import_nsx(nsx_snapshot)
        self.timeline = timeline
        self.anomaly: Anomaly | None = None
        self.windows = windows
        if config.anomaly is not None:
            self.windows = self._behaviour(config.anomaly)
        self.batches = BatchPath(self.decoder, self.engine, timeline, self.windows)

    def _behaviour(self, settings: AnomalyConfig) -> Windows:
        """The anomaly detector and the windows it scores (ConfigError for an unusable model)."""
        from detector.behaviour import modelfile
        from detector.detectors.anomaly import Anomaly

        model = modelfile.load(settings.model)
        wanted = settings.window_seconds
        if wanted is not None and wanted != model.window_seconds:
            raise ConfigError(
                f"anomaly.window_seconds = {wanted:g}, but the model {settings.model} was trained"
                f" on {model.window_seconds:g} s windows: drop the key, or train a model with"
                f" `spoofwatch model train --window {wanted:g}`"
            )
        self.anomaly = Anomaly(model, self.table, self.engine.stats, settings.threshold)
        return BackgroundWindows(
            self.anomaly.judge,
            model.window_seconds,
            peers=(model.peer_segments, model.peers),
        )

    def import_nsx(self, snapshot: dict[str, Any]) -> nsx.Imported:
        """Make NSX's realized bindings the truth for the ports NSX knows."""
        from detector.nsx import realized

        return self.import_nsx_ports(realized.ports(snapshot))

    def import_nsx_ports(self, ports: Iterable[realized.NsxPort]) -> nsx.Imported:
        from detector.bindings import nsx

        prepared = self.wire.prepare(ports)
        self.nsx = nsx.apply(self.table, prepared)
        self.engine.unknown_port = self._wire_seen if self.wire.by_mac else None
        return self.nsx

    def _wire_seen(self, port: PortKey) -> None:
        """A port first met: it may map an NSX segment that had no VNI, or show one mapped
        segment's MAC on another VNI (bindings.wiremap)."""
        self.wire.seen(self.table, port)

    def replay(
        self, paths: Sequence[str], progress: Progress | None = None, ahead: bool = False
    ) -> RunReport:
        """Replay captures in order; an unreadable one is reported and the others still run.
        With `ahead`, reading and decoding run on threads of their own (detector.runners.ahead)."""
        report = RunReport()
        started = time.perf_counter()
        (self._ahead if ahead else self._in_turn)(paths, progress, report)
        self.finish()
        report.seconds = time.perf_counter() - started
        return report

    def _in_turn(self, paths: Sequence[str], progress: Progress | None, report: RunReport) -> None:
        for path in paths:
            capture = CaptureFile(path)
            report.captures.append(capture.info)
            try:
                for batch in capture.batches():
                    self.feed(batch)
                    if progress is not None:
                        progress(capture.info, self.stats.packets)
            except CaptureError as exc:
                report.failures.append(str(exc))

    def _ahead(self, paths: Sequence[str], progress: Progress | None, report: RunReport) -> None:
        batches = self.batches
        info = None
        for item in Ahead(
            paths, lambda b: batches.columns(b) if batches.wants_columns(b) else None
        ):
            if item[0] == "capture":
                info = item[1]
                report.captures.append(info)
            elif item[0] == "batch":
                self.feed(item[1], item[2])
                if progress is not None and info is not None:
                    progress(info, self.stats.packets)
            else:
                report.failures.append(item[1])

    def feed(self, batch: RecordBatch, cols: Columns | None = None) -> None:
        """Judge one batch (`cols`: its columns, if decoded already); its alerts go to the sink."""
        self.sink.emit(self.batches.process(batch, cols))

    def finish(self) -> None:
        """The input has ended: close the timeline and the behaviour windows."""
        if self.timeline is not None:
            self.timeline.close()
        if self.windows is not None:
            self.windows.close()
            self.sink.emit(self.windows.take_alerts())

    def timeline_meta(self, captures: Sequence[CaptureInfo]) -> dict[str, Any]:
        """What the run saw, kept beside its timeline: the report's headline and tables."""
        stats, engine = self.stats, self.engine
        tl = self.timeline
        return {
            "captures": [
                {"name": c.name, "records": c.records, "truncated": c.truncated} for c in captures
            ],
            "packets": stats.packets,
            "bytes": stats.bytes,
            "decode_errors": [
                {"layer": layer, "reason": reason, "count": n}
                for (layer, reason), n in sorted(stats.errors.items())
            ],
            "skipped": [
                {"layer": layer, "reason": reason, "count": n}
                for (layer, reason), n in sorted(stats.skipped.items())
            ],
            "alerts_by_kind": {str(k): n for k, n in sorted(engine.stats.alerts.items())},
            "late_packets": tl.late if tl else 0,
            "early_writes": tl.splits if tl else 0,
            "bindings": [
                {"segment": port.segment, "mac": port.mac, **binding_to_dict(b)}
                for port, b in itertools.islice(self.table.items(), META_BINDINGS)
            ],
            "bindings_total": self.table.binding_count(),
        }
