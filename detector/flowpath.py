"""The batch path for IPFIX records: each data set settled by columns, the rest exactly, in order.

A record is settled on the same terms as a frame (`fastpath`): its port exists behind the same
endpoint (the exporter) and its source is bound to it. Settled records are only counted; the
others become observations and go through the engine in the order they arrived. A record the
engine changes the table for cannot unsettle a later record of its set (they share the exporter,
and under trust on first use a binding only ever adds), so a set is judged once, up front.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from detector.decoders import columns as col
from detector.decoders import flowcols
from detector.detectors.engine import Engine
from detector.model import Alert

if TYPE_CHECKING:
    from detector.decoders import Decoder
    from detector.decoders.ipfix_records import FlowSet

Check = Callable[[npt.NDArray[np.uint64], npt.NDArray[np.uint64]], npt.NDArray[np.bool_]]


class Cache(Protocol):
    """The settled-key table's arrays, as the compiled probe reads them."""

    hashes: npt.NDArray[np.uint64]
    keys: npt.NDArray[np.uint64]
    used: npt.NDArray[np.bool_]


class FlowPath:
    """Judge the data sets one captured record carried."""

    def __init__(self, decoder: Decoder, engine: Engine, cache: Cache, check: Check) -> None:
        self.decoder = decoder
        self.engine = engine
        self.cache = cache  # the batch path's settled keys (an open-addressing table)
        self.check = check  # the batch path's check of keys not cached (the table decides)
        self.settled = 0  # records only counted

    def process(self, sets: list[tuple[int, FlowSet]], source: str, fast: bool) -> list[Alert]:
        """The alerts of these sets' records; with `fast` off every record is judged exactly."""
        out: list[Alert] = []
        for number, fs in sets:
            out.extend(self._one(number, fs, source, fast))
        return out

    def _one(self, number: int, fs: FlowSet, source: str, fast: bool) -> list[Alert]:
        settled = self._settled(fs) if fast else np.zeros(len(fs), dtype=np.bool_)
        n = int(settled.sum())
        if n:
            self.settled += n
            self.decoder.stats.frames["ipfix"] += n
            self.engine.stats.frames["inspected"] += n
        if n == len(fs):
            return []
        ipfix = self.decoder.ipfix
        if n:  # only the unsettled records become dicts
            size = fs.size
            body = b"".join(fs.body[i * size : (i + 1) * size] for i in np.flatnonzero(~settled))
            flows = ipfix.expand(dataclasses.replace(fs, body=body))
        else:
            flows = ipfix.expand(fs)
        out: list[Alert] = []
        for frame in self.decoder.flow_frames(flows, number):
            out.extend(self.engine.process(frame, source))
        return out

    def _settled(self, fs: FlowSet) -> npt.NDArray[np.bool_]:
        if self.engine.table.changes or self.decoder.on_flow is not None:
            return np.zeros(len(fs), dtype=np.bool_)  # the cache lags the table: all exact
        cache = self.cache
        learn = self.engine.ctx.trust.learn_from_flows
        found = flowcols.keys(fs, learn, (cache.hashes, cache.keys, cache.used))
        if found is None:
            return np.zeros(len(fs), dtype=np.bool_)
        settled = found.cached
        if found.misses:  # keys not cached yet: ask the table (which caches the settled ones)
            rows = np.flatnonzero((found.keys[3] != col.EXACT) & ~settled)
            keys = np.ascontiguousarray(found.keys[:, rows])
            settled[rows] = self.check(found.hashes[rows], keys)
        return settled
