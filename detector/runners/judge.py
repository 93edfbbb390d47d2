"""A `replay --jobs` worker: judges its shard of the segments in every batch the reader names.

The reading process puts each batch, with the batch path's columns already decoded, in a
shared slot (`detector.sources.slots`) and names it to every worker; a worker judges its shard
from the slot and says when it is done with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from detector.config.settings import Config
from detector.detectors.anomaly import window_order
from detector.fast.packets.columns import Columns
from detector.runners.pipeline import Pipeline
from detector.sources.slots import Slots
from detector.values import Alert, AlertKind

Key = tuple[int, int, int, str, str, int, int]  # write, phase, packet/window, port, worker, seq


class Keep:
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


def judge(
    cfg: Config, snapshot: Any, rank: int, jobs: int, conn: Connection, slots: tuple[str, int]
) -> None:
    """A worker process's body (shard rank + 1 of jobs); any failure goes back as it is."""
    try:
        conn.send(("result", _judge(cfg, snapshot, rank, jobs, conn, Slots.attach(*slots))))
    except BaseException as exc:  # any failure goes back to the reading process
        conn.send(("error", exc))


def _judge(
    cfg: Config, snapshot: Any, rank: int, jobs: int, conn: Connection, slots: Slots
) -> dict[str, Any]:
    conn.send(("mapped",))
    engine = dataclasses.replace(cfg.engine, shard=(rank + 1, jobs))
    keep = Keep(rank)
    pipeline = Pipeline(dataclasses.replace(cfg, engine=engine), keep, snapshot)
    while (message := conn.recv())[0] != "end":
        if message[0] == "inline":  # a batch larger than a slot
            pipeline.feed(message[1])
            continue
        _, i, n, source, first, decoded = message
        cols = Columns(*slots.get_decoded(i, n)) if decoded else None
        pipeline.feed(slots.batch(i, n, source, first), cols)
        conn.send(("done", i))
    pipeline.finish()
    e = pipeline.engine
    return {
        "alerts": keep.kept,
        "decode": pipeline.stats,
        "frames": e.stats.frames,
        "alert_counts": e.stats.alerts,
        "findings": e.stats.findings,
        "tallies": {k: t.count for k, t in e.tallies.items()},
        "nsx": pipeline.nsx,
    }
