"""Wiring: captures → decoder → engine → sink, batch by batch, with progress and totals."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from detector.bindings import manual
from detector.bindings.table import BindingTable
from detector.config import Config
from detector.decoders import Decoder
from detector.detectors.engine import Engine
from detector.errors import CaptureError
from detector.fast.packets import BatchPath
from detector.model import DecodeStats
from detector.sinks import Sink
from detector.sources import CaptureFile, CaptureInfo

Progress = Callable[[CaptureInfo, int], None]


@dataclass(slots=True)
class RunReport:
    """What a replay saw, for the summary and the exit code."""

    captures: list[CaptureInfo] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Pipeline:
    """One binding table and one engine, fed by any number of captures in order."""

    def __init__(self, config: Config, sink: Sink) -> None:
        self.config = config
        self.sink = sink
        self.stats = DecodeStats()
        self.decoder = Decoder(config.decode, self.stats)
        self.table = BindingTable(config.policy)
        if config.bindings_file:
            manual.apply(self.table, manual.load(config.bindings_file))
        self.engine = Engine(self.table, config.trust, config.engine)
        self.batches = BatchPath(self.decoder, self.engine)

    def replay(self, paths: Sequence[str], progress: Progress | None = None) -> RunReport:
        """Replay captures in order; an unreadable one is reported and the others still run."""
        report = RunReport()
        started = time.perf_counter()
        for path in paths:
            capture = CaptureFile(path)
            report.captures.append(capture.info)
            try:
                for batch in capture.batches():
                    self.sink.emit(self.batches.process(batch))
                    if progress is not None:
                        progress(capture.info, self.stats.packets)
            except CaptureError as exc:
                report.failures.append(str(exc))
        report.seconds = time.perf_counter() - started
        return report
