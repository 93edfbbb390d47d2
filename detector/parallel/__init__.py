"""`replay --jobs N`: the segments shared out over N processes, the alerts merged in serial order.

Every worker reads every capture, batch by batch as one process would, and judges only the
segments of its shard (`[segments] shard`, by `detector.shards`): ports, bindings and
conflicts never cross a segment, so each segment is judged in capture order exactly as in
one process. A worker keeps each alert with the number of the sink write it was part of (the
same batch in every worker), then the packet's number (or, for behaviour windows, which come
after a batch's packets, their window and port); sorting on that key puts the alerts in the
order one process writes them. What does not split: the table's port cap and the alert-key
cap are per worker (a flood that reaches them ends differently), and records of several
segments in one IPFIX message that raise alerts come in shard order within that message.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from detector.bindings.nsx import Imported
from detector.bindings.table import BindingTable
from detector.config import Config
from detector.detectors.anomaly import window_order
from detector.detectors.engine import AlertKey, Engine
from detector.errors import ConfigError
from detector.model import Alert, AlertKind, DecodeStats
from detector.pipeline import Pipeline, RunReport
from detector.sinks import Sink

Key = tuple[int, int, int, str, str, int, int]  # write, phase, packet/window, port, worker, seq


class _Keep:
    """A worker's sink: each alert with its place in the serial order."""

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.writes = 0
        self.kept: list[tuple[Key, Alert]] = []

    def emit(self, alerts: Sequence[Alert]) -> None:
        for a in alerts:
            if a.kind is AlertKind.ANOMALY:
                t, segment, mac = window_order(a)
                key = (self.writes, 1, t, segment, mac, self.rank, len(self.kept))
            else:
                key = (self.writes, 0, a.evidence.packet, "", "", self.rank, len(self.kept))
            self.kept.append((key, a))
        self.writes += 1

    def close(self) -> None:
        pass


def _work(cfg: Config, paths: list[str], snapshot: Any, rank: int, jobs: int) -> dict[str, Any]:
    """One worker: the shard `rank + 1` of `jobs`."""
    engine = dataclasses.replace(cfg.engine, shard=(rank + 1, jobs))
    keep = _Keep(rank)
    pipeline = Pipeline(dataclasses.replace(cfg, engine=engine), keep, snapshot)
    report = pipeline.replay(paths)
    e = pipeline.engine
    return {
        "alerts": keep.kept,
        "report": report,
        "decode": pipeline.stats,
        "frames": e.stats.frames,
        "alert_counts": e.stats.alerts,
        "findings": e.stats.findings,
        "tallies": {k: t.count for k, t in e.tallies.items()},
        "nsx": pipeline.nsx,
    }


@dataclasses.dataclass(slots=True)
class Merged:
    """What the workers saw together, for the summary: the decoder's counters (every worker
    decodes everything), the engine's (summed), the packets behind each alert key."""

    report: RunReport
    decode: DecodeStats
    engine: Engine
    tallies: dict[AlertKey, int]
    nsx: Imported | None


def replay(
    cfg: Config, paths: Sequence[str], jobs: int, sink: Sink, snapshot: Any = None
) -> Merged:
    """Replay over `jobs` processes; the alerts go to `sink` in serial order."""
    if cfg.engine.only or cfg.engine.shard != (1, 1):
        raise ConfigError("--jobs splits the segments itself: drop [segments] only and shard")
    started = time.perf_counter()
    # fork inherits the imports (a second of start-up a worker) but is unsafe once threads run
    # (a network sink's sender): spawn then
    method = "fork" if threading.active_count() == 1 else "spawn"
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(jobs) as pool:
        args = [(cfg, list(paths), snapshot, rank, jobs) for rank in range(jobs)]
        done = pool.starmap(_work, args)
    kept = sorted((x for d in done for x in d["alerts"]), key=lambda x: x[0])
    write: list[Alert] = []
    at = 0
    for key, alert in kept:
        if key[0] != at and write:
            sink.emit(write)
            write = []
        at = key[0]
        write.append(alert)
    if write:
        sink.emit(write)
    first = done[0]
    report: RunReport = first["report"]
    report.seconds = time.perf_counter() - started
    merged = Engine(BindingTable(cfg.policy))
    frames: Counter[str] = Counter(first["frames"])  # what every worker counts alike
    frames["inspected"] = sum(d["frames"].get("inspected", 0) for d in done)
    del frames["ignored:other-shard"]
    merged.stats.frames = frames
    tallies: dict[AlertKey, int] = {}
    for d in done:
        merged.stats.alerts.update(d["alert_counts"])
        merged.stats.findings.update(d["findings"])
        tallies.update(d["tallies"])
    return Merged(report, first["decode"], merged, tallies, first["nsx"])
