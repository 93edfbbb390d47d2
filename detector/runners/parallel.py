"""`replay --jobs N`: one process reads and decodes, N judge the segments by shard, in order.

Reading and decoding (the record walk, the batch path's columns) do not care about segments:
the process here does them once, into shared slots (`detector.sources.slots`), and names each
batch to every worker (`detector.runners.judge`). Worker k judges only the segments of
shard k (`[segments] shard`, by `detector.shards`) in every batch, in capture order; ports,
bindings and conflicts never cross a segment, so each segment is judged exactly as in one
process. A slot is read into again once every worker is done with it. Each alert comes back
with the number of the sink write it was part of (the same batch in every worker), then the
packet's number (or, for behaviour windows, which come after a batch's packets, their window
and port); sorting on that key puts the alerts in the order one process writes them. What
does not split: the table's port cap and the alert-key cap are per worker (a flood that
reaches them ends differently), and records of several segments in one IPFIX message that
raise alerts come in shard order within that message.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from detector.bindings.nsx import Imported
from detector.bindings.table import BindingTable
from detector.config.settings import Config
from detector.detectors.engine import AlertKey, Engine
from detector.errors import CaptureError, ConfigError, SpoofwatchError
from detector.fast.packets import columns as col
from detector.fast.packets import path as packets
from detector.runners.judge import judge
from detector.runners.pipeline import Progress, RunReport
from detector.sinks import Sink
from detector.sources.capture import CHUNK_BYTES, CaptureFile
from detector.sources.pcap import Chunk
from detector.sources.slots import DATA, Slots
from detector.values import Alert, DecodeStats, RecordBatch

SLOTS = 16  # batches in flight at most between the reader and the workers (~7 MiB each)


@dataclasses.dataclass(slots=True)
class Merged:
    """What the workers saw together, for the summary: the decoder's counters (every worker
    judges, and so counts, every batch), the engine's (summed), the packets behind each alert
    key."""

    report: RunReport
    decode: DecodeStats
    engine: Engine
    tallies: dict[AlertKey, int]
    nsx: Imported | None


class Reader:
    """The reading side: lends slots to the classic-pcap reader (`Chunks`), decodes each
    batch's columns into its slot, names it to every worker, and takes a slot back once every
    worker is done with it."""

    size, head = CHUNK_BYTES, DATA - CHUNK_BYTES

    def __init__(self, cfg: Config, slots: Slots, conns: list[Connection]) -> None:
        self.slots, self.conns = slots, conns
        self.masks = col.masks(cfg.decode)
        self.columns = col.enabled(cfg.policy, cfg.engine)
        self.busy = [0] * slots.count  # workers still holding each slot
        self.turn = -1
        self.lent: tuple[int, memoryview] | None = None  # the slot the pcap reader is filling
        self.results: dict[int, dict[str, Any]] = {}
        self.mapped = 0

    def next(self) -> Chunk:
        self.lent = None  # not named: the reader put no batch in it
        i = self._free()
        chunk = self.slots.chunk(i)
        self.lent = (i, chunk[0])
        return chunk

    def send(self, batch: RecordBatch) -> None:
        """Name a batch to every worker: in the slot it was read into, copied into a free
        one, or (larger than a slot) whole through the pipe."""
        if self.lent is not None and batch.buf is self.lent[1]:
            i = self.lent[0]
            self.slots.columns(i, batch)
        else:
            self.lent = None
            i = self._free()
            if not self.slots.put(i, batch):
                whole = dataclasses.replace(batch, buf=bytes(batch.buf))
                self._tell(("inline", whole))
                return
        self.lent = None
        decoded = self.columns and len(batch) >= packets.MIN_BATCH
        if decoded:
            keys, hashes, dst = col.decode(
                batch.buf, batch.offsets, batch.caplens, batch.linktypes, self.masks
            )
            self.slots.put_decoded(i, keys, hashes, dst)
        message = ("batch", i, len(batch), batch.source, batch.first_number, decoded)
        self._tell(message)
        self.busy[i] = len(self.conns)

    def ready(self) -> None:
        """Wait until every worker has mapped the slots (then the file may lose its name)."""
        while self.mapped < len(self.conns):
            self._hear()

    def finish(self) -> list[dict[str, Any]]:
        """End the input; every worker's result, in rank order."""
        self._tell(("end",))
        while len(self.results) < len(self.conns):
            self._hear()
        return [self.results[rank] for rank in range(len(self.conns))]

    def _tell(self, message: tuple[Any, ...]) -> None:
        for rank, conn in enumerate(self.conns):
            try:
                conn.send(message)
            except OSError:  # its end of the pipe is closed: it died
                raise self._gone(rank) from None

    def _gone(self, rank: int) -> SpoofwatchError:
        return SpoofwatchError(
            f"replay worker {rank + 1} of {len(self.conns)} ended without a word"
            " (killed? out of memory?)"
        )

    def _free(self) -> int:
        self.turn = (self.turn + 1) % self.slots.count
        while self.busy[self.turn]:
            self._hear()
        return self.turn

    def _hear(self) -> None:
        """Take in what the workers said, waiting for at least one of them."""
        talking = [c for rank, c in enumerate(self.conns) if rank not in self.results]
        ready = wait(talking)
        for rank, conn in enumerate(self.conns):
            if conn not in ready:
                continue
            try:
                message: tuple[Any, ...] = conn.recv()
            except (EOFError, OSError):
                raise self._gone(rank) from None
            kind = message[0]
            if kind == "done":
                self.busy[message[1]] -= 1
            elif kind == "mapped":
                self.mapped += 1
            elif kind == "result":
                self.results[rank] = message[1]
            else:
                raise message[1]


def replay(
    cfg: Config,
    paths: Sequence[str],
    jobs: int,
    sink: Sink,
    snapshot: Any = None,
    progress: Progress | None = None,
) -> Merged:
    """Replay over `jobs` processes; the alerts go to `sink` in serial order."""
    if cfg.engine.only or cfg.engine.shard != (1, 1):
        raise ConfigError("--jobs splits the segments itself: drop [segments] only and shard")
    started = time.perf_counter()
    slots = Slots.create(min(2 + 2 * jobs, SLOTS))
    # fork inherits the imports (a second of start-up a worker) but is unsafe once threads run
    # (a network sink's sender): spawn then
    method = "fork" if threading.active_count() == 1 else "spawn"
    ctx: Any = multiprocessing.get_context(method)
    workers = []
    report = RunReport()
    try:
        conns = []
        for rank in range(jobs):
            mine, theirs = ctx.Pipe()
            args = (cfg, snapshot, rank, jobs, theirs, (slots.path, slots.count))
            worker = ctx.Process(target=judge, args=args, name=f"replay-{rank + 1}")
            worker.daemon = True
            worker.start()
            theirs.close()
            workers.append(worker)
            conns.append(mine)
        reader = Reader(cfg, slots, conns)
        reader.ready()
        slots.unlink()
        packets_read = 0
        for path in paths:
            capture = CaptureFile(path, chunks=reader)
            report.captures.append(capture.info)
            try:
                for batch in capture.batches():
                    reader.send(batch)
                    packets_read += len(batch)
                    if progress is not None:
                        progress(capture.info, packets_read)
            except CaptureError as exc:
                report.failures.append(str(exc))
        done = reader.finish()
        for worker in workers:
            worker.join(timeout=10)
    finally:
        slots.unlink()
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
        slots.close()
    _emit(sink, done)
    report.seconds = time.perf_counter() - started
    return _merge(cfg, report, done)


def _emit(sink: Sink, done: list[dict[str, Any]]) -> None:
    """Every worker's alerts to the sink, in serial order, one write per batch that had any."""
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


def _merge(cfg: Config, report: RunReport, done: list[dict[str, Any]]) -> Merged:
    first = done[0]
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
