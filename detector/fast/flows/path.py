"""The batch path for IPFIX records: settled records of a data set are counted, the rest judged.

A record is settled on the same terms as a frame (`fast.packets`): its port exists behind the same
endpoint (the exporter) and its source is bound to it. Records of MAC-keyed overlay templates
get the packet path's key columns and its settled-key table; any other record is keyed by its
exporter and the elements detection depends on (`flows.JUDGED`), and such a key is remembered
once a record with it settles (and forgotten when any port moves). Settled records are only
counted; the others become observations and go through the engine in the order they arrived.
A record the engine changes the table for cannot unsettle a later record of its set (they share
the exporter, and under trust on first use a binding only ever adds), so a set is judged once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from detector.decoders.ipfix.observations import JUDGED, unicast_destination
from detector.detectors.engine import Engine
from detector.fast.flows import columns as flowcols
from detector.fast.packets import columns as col
from detector.values import Alert, Frame, PortKey, is_unicast, segment_of

if TYPE_CHECKING:
    from detector.decoders.chain import Decoder
    from detector.decoders.ipfix.decoder import Flow
    from detector.decoders.ipfix.records import Field, FlowSet

SEEN_LIMIT = 1 << 18  # judged keys kept (then the cache starts over: memory stays bounded)
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
        self.seen: set[Hashable] = set()  # judged keys of records that settle (see _judged)
        self.templates: dict[tuple[Field, ...], int] = {}  # fixed templates, numbered

    def process(self, sets: list[tuple[int, FlowSet]], source: str, fast: bool) -> list[Alert]:
        """The alerts of these sets' records; with `fast` off every record is judged exactly."""
        out: list[Alert] = []
        for number, fs in sets:
            out.extend(self._one(number, fs, source, fast))
        return out

    def forget(self) -> None:
        """A port moved: judged records may no longer hold (the batch path calls this)."""
        self.seen.clear()

    def _one(self, number: int, fs: FlowSet, source: str, fast: bool) -> list[Alert]:
        settled, judged = self._settled(fs) if fast else (np.zeros(len(fs), np.bool_), None)
        n = int(settled.sum())
        if n:
            self.settled += n
            self.decoder.stats.frames["ipfix"] += n
            self.engine.stats.frames["inspected"] += n
        if n == len(fs):
            return []
        rest = np.flatnonzero(~settled).tolist()
        out: list[Alert] = []
        for flow, i in zip(self._flows(fs, rest), rest, strict=True):
            for frame in self.decoder.flow_frames((flow,), number):
                out.extend(self.engine.process(frame, source))
                if judged is not None and self._settles(frame):
                    if len(self.seen) >= SEEN_LIMIT:
                        self.seen.clear()
                    self.seen.add(judged[i])
        return out

    def _flows(self, fs: FlowSet, rows: list[int]) -> list[Flow]:
        """These records of the set as flows (dicts)."""
        if len(rows) == len(fs):
            return self.decoder.ipfix.expand(fs)
        if fs.size:
            size = fs.size
            body = b"".join(fs.body[i * size : (i + 1) * size] for i in rows)
            return self.decoder.ipfix.expand(dataclasses.replace(fs, body=body))
        return self.decoder.ipfix.expand(
            dataclasses.replace(fs, rows=tuple(fs.rows[i] for i in rows))
        )

    def _settled(self, fs: FlowSet) -> tuple[npt.NDArray[np.bool_], list[Hashable] | None]:
        """Which records are settled, and (for sets the columns cannot key) their judged keys."""
        if self.engine.table.changes or self.decoder.on_flow is not None:
            return np.zeros(len(fs), dtype=np.bool_), None  # the caches lag the table
        cache = self.cache
        learn = self.engine.ctx.trust.learn_from_flows
        found = flowcols.keys(fs, learn, (cache.hashes, cache.keys, cache.used))
        if found is None:
            judged = self._judged(fs)
            seen = self.seen
            return np.fromiter((k in seen for k in judged), np.bool_, len(judged)), judged
        settled = found.cached
        if found.misses:  # keys not cached yet: ask the table (which caches the settled ones)
            rows = np.flatnonzero((found.keys[3] != col.EXACT) & ~settled)
            keys = np.ascontiguousarray(found.keys[:, rows])
            settled[rows] = self.check(found.hashes[rows], keys)
        return settled, None

    def _judged(self, fs: FlowSet) -> list[Hashable]:
        """Per record, what detection depends on (`flows.JUDGED`), with the exporter."""
        if not fs.size:
            return [
                (fs.exporter, tuple(row.get(n) for n in JUDGED), unicast_destination(row))
                for row in fs.rows
            ]
        template = self.templates.get(fs.fields)
        if template is None:
            if len(self.templates) >= SEEN_LIMIT // 64:
                self.templates.clear()
                self.seen.clear()
            template = self.templates[fs.fields] = len(self.templates)
        where, masks = flowcols.judged(fs.fields)
        width = len(where)
        records = np.frombuffer(fs.body, np.uint8).reshape(-1, fs.size)
        blob = (records[:, where] & masks).tobytes()
        prefix = f"{fs.exporter}/{template}|".encode()
        return [prefix + blob[i * width : (i + 1) * width] for i in range(len(fs))]

    def _settles(self, frame: Frame) -> bool:
        """Would the same record, seen again now, change nothing? (as `fast.packets` decides)"""
        mac, src, endpoint = frame.src_mac, frame.src_ip, frame.outer_src
        if mac is None or src is None or endpoint is None or not is_unicast(mac):
            return False
        port = PortKey(segment_of(frame), mac)
        learns = self.engine.ctx.trust.learn_from_flows
        return self.engine.settles(port, src, endpoint, is_unicast(frame.dst_mac), learns)
