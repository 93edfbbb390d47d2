"""The batch path: columns for the common frames, the exact path for the rest, same results.

A frame decoded into columns is *settled* when the binding table already says it can neither
raise an alert nor change state: its port exists, its source (or the ARP sender it would
teach) is already bound (or the port is a gateway), and for a unicast frame the port is already
behind the same tunnel endpoint. Settled frames are only counted. Every other frame goes, in
capture order, through the exact decoder and engine; when one of them changes the table, the
columns after it are checked again against the new state. Trust-on-every-use tables age
bindings by capture time, so they always take the exact path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from detector.decoders.chain import Decoder
from detector.detectors.engine import Engine
from detector.fast.flows import columns as flowcols
from detector.fast.flows.path import FlowPath
from detector.fast.packets import columns as col
from detector.fast.settled import PortIndex, SettledKeys, port_ids
from detector.fast.settled import ports_ids as _ids
from detector.fast.timeline.path import Timeline, frame_source
from detector.fast.windows.path import Windows
from detector.shards import SHARD_MIX
from detector.values import Alert, Frame, PortKey, RecordBatch

if TYPE_CHECKING:
    from detector.fast.packets.columns import Columns

# A port that moves twice within FLAP_NS (a MAC clone behind two tunnel endpoints) keeps its
# keys out of the settled cache for HOLD_NS of capture time: its frames take the exact path
# and its moves cost no rebuild of the cache. A single move (vMotion) is cached again at once.
FLAP_NS = 10 * 1_000_000_000
HOLD_NS = 60 * 1_000_000_000
MOVERS = 65_536  # ports remembered for that (the oldest forgotten first)
MIN_BATCH = 256  # smaller batches are not worth the column pass


class BatchPath:
    """Process record batches through columns where the table allows, exactly otherwise."""

    def __init__(
        self,
        decoder: Decoder,
        engine: Engine,
        timeline: Timeline | None = None,
        windows: Windows | None = None,
    ) -> None:
        self.decoder = decoder
        self.engine = engine
        self.timeline = timeline
        self.windows = windows
        self.masks = col.masks(decoder.config)
        self.settled = SettledKeys()
        engine.table.track_changes()
        self.enabled = col.enabled(engine.table.policy, engine.config)
        decoder.collect_sets = True  # IPFIX data sets come whole, judged by self.flows
        self.flows = FlowPath(decoder, engine, self.settled, self._check)
        self.now_ns = 0  # capture time of the batch in hand
        self.last_move: dict[int, int] = {}  # port id -> when it last moved
        self.held: dict[int, int] = {}  # flapping port id -> until when it stays uncached
        self.flapping = 0  # moves of ports that moved twice within FLAP_NS

    def warm(self) -> None:
        """Load the compiled kernels now (a daemon must not stall on its first busy batch)."""
        if not self.enabled:
            return
        keys = np.zeros((9, 1), dtype=np.uint64)
        col.decode(
            b"\0" * 64,
            np.zeros(1, np.int64),
            np.full(1, 64, np.int64),
            np.ones(1, np.int64),
            self.masks,
        )
        flowcols.warm()
        if self.timeline is not None:
            Timeline.warm()
        if self.windows is not None:
            Windows.warm()
        scratch = SettledKeys(16)
        scratch.add(np.zeros(1, dtype=np.uint64), keys)
        scratch.lookup(np.zeros(1, dtype=np.uint64), keys, np.ones(1, dtype=np.bool_))

    def process(self, batch: RecordBatch, cols: Columns | None = None) -> list[Alert]:
        """Return the alerts of one batch, in capture order (`cols`: its columns, when another
        process decoded them already)."""
        if len(batch):
            self.now_ns = int(batch.ts_ns[-1])
        if self.windows is not None:
            self.windows.source = batch.source
        self._apply(self.engine.table.drain_changes())
        self.decoder.stats.cut += int(np.count_nonzero(batch.caplens < batch.origlens))
        if not self.wants_columns(batch):
            alerts = self._exact(batch, range(len(batch)))
            if self.timeline is not None:
                self.timeline.end_batch()
            return alerts + self._end_windows()
        if cols is None:
            cols = self.columns(batch)
        self.decoder.stats.packets += len(batch)
        self.decoder.stats.bytes += int(batch.origlens.sum())
        keys, hashes = cols.keys, cols.hashes
        candidate = cols.code != col.EXACT
        other = self._other_shards(cols, candidate)
        candidate &= ~other
        settled = self.settled.lookup(hashes, keys, candidate)
        miss = np.flatnonzero(candidate & ~settled)
        settled[miss] = self._check(hashes[miss], keys[:, miss])
        settled |= other  # another collector's segments: not walked, not counted as inspected
        alerts = self._walk(batch, keys, hashes, candidate, settled)
        settled &= ~other
        self._count(cols, settled)
        if self.timeline is not None:
            self._timeline(batch, cols, settled)
        if self.windows is not None:
            w = self.windows
            w.add_columns(keys, cols.dst, settled, batch.ts_ns, batch.origlens, batch.first_number)
        return alerts + self._end_windows()

    def wants_columns(self, batch: RecordBatch) -> bool:
        """Does `process` decode this batch into columns?"""
        return self.enabled and len(batch) >= MIN_BATCH

    def columns(self, batch: RecordBatch) -> Columns:
        return col.decode(batch.buf, batch.offsets, batch.caplens, batch.linktypes, self.masks)

    def _end_windows(self) -> list[Alert]:
        """Close the behaviour windows this batch ended; their alerts follow the batch's."""
        if self.windows is None:
            return []
        self.windows.end_batch()
        return self.windows.take_alerts()

    def _timeline(self, batch: RecordBatch, cols: Columns, settled: npt.NDArray[np.bool_]) -> None:
        """Settled frames go to the timeline from the columns (their source is bound)."""
        assert self.timeline is not None
        self.timeline.add_columns(cols.keys, cols.dst, settled, batch.ts_ns, batch.origlens)
        self.timeline.end_batch()

    def _frame_row(self, frame: Frame, nbytes: int) -> None:
        """An inspected frame of the exact path goes to the timeline with its verdict now, and
        to the behaviour windows."""
        port = self.engine.last_port
        if port is None or frame.flow:
            return
        if self.windows is not None:
            self.windows.add_frame(frame, port, nbytes)
        if self.timeline is None:
            return
        source = frame_source(frame)
        unbound = source is not None and not self.engine.entitled(port, source, frame.ts_ns)
        self.timeline.add_frame(frame, port, source, unbound, nbytes)

    def _walk(
        self,
        batch: RecordBatch,
        keys: npt.NDArray[np.uint64],
        hashes: npt.NDArray[np.uint64],
        candidate: npt.NDArray[np.bool_],
        settled: npt.NDArray[np.bool_],
    ) -> list[Alert]:
        """Run the unsettled frames through the exact path in order. After a frame changes the
        table, look again at the later unsettled frames of the ports it changed."""
        table = self.engine.table
        todo = np.flatnonzero(~settled).tolist()
        index: PortIndex | None = None
        alerts: list[Alert] = []
        k = 0
        while k < len(todo):
            i = todo[k]
            k += 1
            if settled[i]:
                continue  # settled by a look after an earlier change
            version = table.version
            alerts.extend(self._exact(batch, (i,), count=False))
            if table.version == version:
                continue
            changes = table.drain_changes()
            if index is None:  # the first change in this batch: index its frames by port
                index = PortIndex(keys)
            if self._apply(changes):  # a move: frames of that port after i are unsettled
                later = [index.frames(pid) for pid in _ids(p for p, m in changes if m)]
                back = np.concatenate(later)
                back = back[(back > i) & settled[back]]  # only those settled must go back
                if len(back):
                    settled[back] = False
                    todo = todo[:k] + sorted(set(todo[k:]) | set(back.tolist()))
            for pid in _ids(p for p, _ in changes):
                if pid in self.held:
                    continue  # a flapping port: its later frames take the exact path anyway
                idx = index.frames(pid)
                idx = idx[(idx > i) & candidate[idx] & ~settled[idx]]
                if len(idx):
                    settled[idx] = self._check(hashes[idx], keys[:, idx])
        return alerts

    def _apply(self, changes: list[tuple[PortKey, bool]]) -> bool:
        """Forget the cached keys of ports that moved; say whether any did."""
        moved = _ids(p for p, m in changes if m)
        if len(moved):
            self._note_moves(moved)
            self.settled.forget(moved)
        if any(m for _, m in changes):
            self.flows.forget()
        return bool(len(moved))

    def _note_moves(self, moved: npt.NDArray[np.uint64]) -> None:
        now = self.now_ns
        for pid in moved.tolist():
            last = self.last_move.pop(pid, None)
            self.last_move[pid] = now
            if last is not None and now - last < FLAP_NS:
                self.held.pop(pid, None)
                self.held[pid] = now + HOLD_NS
                self.flapping += 1
        for memory in (self.last_move, self.held):
            while len(memory) > MOVERS:
                memory.pop(next(iter(memory)))

    def _cacheable(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        """Which keys may enter the settled cache: not those of a flapping port."""
        ok = np.ones(keys.shape[1], dtype=np.bool_)
        if self.held:
            now = self.now_ns
            for pid in [p for p, until in self.held.items() if until <= now]:
                del self.held[pid]
            held = np.fromiter(self.held, dtype=np.uint64, count=len(self.held))
            ok &= ~np.isin(port_ids(tuple(keys[:3])), held)
        return ok

    def _other_shards(
        self, cols: Columns, candidate: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """The records of segments another collector judges ([segments] only, shard), counted
        as ignored. (Records of the exact path: the engine decides.)"""
        engine = self.engine
        other = np.zeros(len(candidate), dtype=np.bool_)
        if not engine.sharded:
            return other
        k, n = engine.config.shard
        counts = np.zeros(3, dtype=np.int64)
        col.kernels().shards(cols.keys, k, n, np.uint64(SHARD_MIX), other, counts)
        if engine.config.only:
            seg = (cols.encap << np.uint64(24)) | cols.keys[1]
            ids = np.unique(seg[candidate & ~other]).tolist()
            names = (f"{col.ENCAP_NAMES[i >> 24]}:{i & 0xFFFFFF}" for i in ids)
            gone = [i for i, name in zip(ids, names, strict=True) if name not in engine.config.only]
            out = candidate & ~other & np.isin(seg, np.array(gone, dtype=np.uint64))
            col.kernels().by_encap(cols.encap, out, counts)
            other |= out
        engine.stats.frames["ignored:other-shard"] += int(counts.sum())
        self._add(counts)
        return other

    def _count(self, cols: Columns, settled: npt.NDArray[np.bool_]) -> None:
        """Count the settled records: inspected, by encapsulation."""
        counts = np.zeros(3, dtype=np.int64)
        n = col.kernels().by_encap(cols.encap, settled, counts)
        if n:
            self.engine.stats.frames["inspected"] += n
            self._add(counts)

    def _add(self, counts: npt.NDArray[np.int64]) -> None:
        for code, name in col.ENCAP_NAMES.items():
            if counts[code]:
                self.decoder.stats.frames[name] += int(counts[code])

    def _exact(self, batch: RecordBatch, indices: Iterable[int], count: bool = True) -> list[Alert]:
        out: list[Alert] = []
        for i in indices:
            frame = self.decoder.decode_one(batch, i, count_packet=count)
            if frame is not None:
                out.extend(self.engine.process(frame, batch.source))
                self._frame_row(frame, int(batch.origlens[i]))
            for flow in self.decoder.take_flows():
                out.extend(self.engine.process(flow, batch.source))
            out.extend(self.flows.process(self.decoder.take_sets(), batch.source, self.enabled))
        return out

    def _check(
        self, h: npt.NDArray[np.uint64], keys: npt.NDArray[np.uint64]
    ) -> npt.NDArray[np.bool_]:
        """Which of these frames the table settles as it is now (cache first, then the table)."""
        ok = self.settled.lookup(h, keys, np.ones(len(h), dtype=np.bool_))
        miss = np.flatnonzero(~ok)
        if not len(miss):
            return ok
        _, first, inverse = np.unique(h[miss], return_index=True, return_inverse=True)
        reps = miss[first]
        verdict = np.array([self._settles(k) for k in keys[:, reps].T.tolist()], dtype=np.bool_)
        same = (keys[:, miss] == keys[:, reps][:, inverse]).all(axis=0)  # no collision settles
        ok[miss] = verdict[inverse] & same
        cache = verdict & self._cacheable(keys[:, reps])
        if cache.any():
            self.settled.add(h[reps][cache], np.ascontiguousarray(keys[:, reps][:, cache]))
        return ok

    def _settles(self, key: list[int]) -> bool:
        encap, vni, mac, code, ip_hi, ip_lo, outer_hi, outer_lo, unicast = key
        port = PortKey(f"{col.ENCAP_NAMES[encap]}:{vni}", col.mac_text(mac))
        source = None if code == col.NO_CHECK else col.ip_text(ip_hi, ip_lo)
        endpoint = col.ip_text(outer_hi, outer_lo)
        return self.engine.settles(port, source, endpoint, bool(unicast), code == col.ARP_LEARN)
