"""Behaviour windows: what each port sent per window of capture time, as counts for the model.

Frames come in batches of numbers, like the timeline's: settled frames straight from the batch
path's columns (`add_columns`), frames of the exact path one by one (`add_frame`). A numba
kernel (windows.kernels) counts them into rows of (port, window). At the end of each batch, windows
older than the newest one are closed and handed to `emit` as a `WindowRows`; `close` and
`idle` (a live collector's clock) close the rest. A frame for a window already closed counts in
the oldest open one (`late`). When the open rows or distinct values pass `max_open` (a flood of
new ports or destinations), every open row is closed early (`splits`): memory stays bounded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.fast.lazy import Lazy
from detector.fast.packets import columns as col
from detector.fast.timeline.path import split_address
from detector.values import Alert, Frame, PortKey, WindowRows, is_unicast

wk: Any = Lazy("detector.fast.windows.kernels")  # numba loads when windows are first made
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


class Windows:
    """Count frames per (port, window) and hand closed windows to `emit`; the alerts it returns
    wait in `alerts` for the batch path to hand on with its own."""

    def __init__(
        self,
        emit: Callable[[WindowRows], list[Alert]],
        window_seconds: float = 10.0,
        peers: tuple[Sequence[str], U64] | None = None,  # known from training: segment names,
        # and (segment name index, destination high, low) rows
        learn_peers: bool = False,
        max_open: int = 1 << 22,
    ) -> None:
        self.emit = emit
        self.alerts: list[Alert] = []
        self.source = ""  # the source of the batch in hand, for the alerts' evidence
        self.window_ns = max(1, round(window_seconds * 1e9))
        self.learn = learn_peers
        self.max_open = max_open
        self.segments = col.SegmentIds()
        self.seed = np.frombuffer(os.urandom(48), dtype=np.uint64) | np.uint64(1)
        rows = np.zeros((0, 3), np.uint64)
        if peers is not None:
            names, rows = peers
            ids = np.array([self.segments.of_name(n) for n in names], np.uint64)
            rows = np.column_stack((ids[rows[:, 0].astype(np.intp)], rows[:, 1], rows[:, 2]))
        self.peers = peer_table(rows, self.seed)
        self._pending: list[tuple[int, ...]] = []
        self.open_rows = self.open_pairs = 0
        self.newest = -1  # the newest window seen
        self.closed_below = 0  # windows below this have been handed out
        self.late = self.splits = 0
        self._tables(1 << 10, 1 << 12)

    @staticmethod
    def warm() -> None:
        """Load the counting kernels now, on scratch windows."""
        scratch = Windows(lambda rows: [])
        one = np.ones(1, np.bool_)
        zero = np.zeros(1, np.int64)
        keys = np.zeros((9, 1), np.uint64)
        keys[0] = col.ENCAP_GENEVE
        scratch.add_columns(keys, np.zeros((3, 1), np.uint64), one, zero, zero, 1)
        scratch.close()

    def _tables(self, rows: int, pairs: int) -> None:
        self.ports = np.zeros((rows, wk.PORT_COLUMNS), np.uint64)
        self.pairs = np.zeros(pairs, np.uint64)

    def add_columns(
        self, keys: U64, dst: U64, take: npt.NDArray[np.bool_], ts_ns: I64, nbytes: I64, first: int
    ) -> None:
        """The batch path's settled rows (`take`) from its (9, n) keys and (3, n) destinations;
        `first` is the packet number of the batch's first record."""
        self._count(wk.aggregate_columns, len(take), keys, dst, take, ts_ns, nbytes, first)

    def add_frame(self, frame: Frame, port: PortKey, nbytes: int) -> None:
        """One inspected frame of the exact path; counted with the rest at `end_batch`."""
        dst: str | None
        if frame.arp is not None:
            l4, dst = int(wk.ARP_BIT) | frame.arp.op, frame.arp.target_ip
        else:
            l4 = (frame.ip_proto or 0) << 24 | (frame.tcp_flags << 16) | (frame.dst_port or 0)
            dst = frame.dst_ip
        client, flags = 0, int(frame.nd is not None)
        if frame.dhcp is not None:
            flags |= 2
            if frame.dhcp.op == 1:  # BOOTREQUEST: the client's hardware address
                client = int(frame.dhcp.chaddr.replace(":", ""), 16) + 1
        group = frame.dst_mac is not None and not is_unicast(frame.dst_mac)
        self._pending.append(
            (
                self.segments.of_name(port.segment),
                int(port.mac.replace(":", ""), 16),
                max(frame.ts_ns, 0),
                frame.packet,
                nbytes,
                *split_address(dst),
                l4,
                int(group),
                client,
                flags,
            )
        )

    def end_batch(self) -> None:
        """Count the exact path's frames, then close the windows older than the newest."""
        pending, self._pending = self._pending, []
        self._end(pending)

    def _end(self, pending: list[tuple[int, ...]]) -> None:
        if pending:  # as add_frame packs them
            seg, mac, ts, packet, nbytes, dhi, dlo, l4, group, client, flags = np.array(
                pending, dtype=np.uint64
            ).T
            frames = (seg, mac, packet, ts, nbytes, np.stack((dhi, dlo)), l4, group, client, flags)
            self._count(wk.aggregate, len(seg), *frames)
        if self.open_rows + self.open_pairs > self.max_open:
            self.splits += 1
            self._close(self.newest + 1)
        elif self.newest > self.closed_below:
            self._close(self.newest)

    def take_alerts(self) -> list[Alert]:
        alerts, self.alerts = self.alerts, []
        return alerts

    def idle(self, now_ns: int) -> None:
        """Close the windows that ended before `now_ns` (a live collector's clock)."""
        self._close(min(now_ns // self.window_ns, self.newest + 1))

    def close(self) -> None:
        """Count what is pending and close every open window."""
        self.end_batch()
        self._close(self.newest + 1)

    def _count(self, kernel: Any, n: int, *frames: Any) -> None:
        """Run a counting kernel over n frames, growing the tables between its calls."""
        start = 0
        while start < n:
            room = self._room(n - start)
            rows, pairs, late, newest, start = kernel(
                *frames, self.window_ns, self.closed_below, self.ports, self.pairs, self.peers,
                self.seed, self.learn, start, *room,
            )  # fmt: skip
            self.open_rows += int(rows)
            self.open_pairs += int(pairs)
            self.late += int(late)
            self.newest = max(self.newest, int(newest))

    def _source(self) -> str:
        """The source named in the rows being closed."""
        return self.source

    def _room(self, batch: int) -> tuple[int, int]:
        """Room for new rows and pairs before a table is half full; a full one doubles first.
        In learning mode the peer set grows so that the whole batch fits."""
        rows, pairs = len(self.ports), len(self.pairs)
        if 2 * self.open_rows >= rows - 2:
            rows *= 2
        if 2 * self.open_pairs >= pairs - 8:
            pairs *= 2
        if (rows, pairs) != (len(self.ports), len(self.pairs)):
            self._rebuild(np.ones(len(self.ports), np.bool_), rows, pairs)
        if self.learn:
            known = int(np.count_nonzero(self.peers[:, 0]))
            if 2 * (known + batch) >= len(self.peers):
                self.peers = peer_table(self.known_peers(), self.seed, batch)
        return rows // 2 - self.open_rows, pairs // 2 - self.open_pairs

    def known_peers(self) -> U64:
        """The peer set as (segment id, destination high, low) rows."""
        return np.ascontiguousarray(self.peers[self.peers[:, 0] != 0][:, 1:])

    def peer_list(self) -> tuple[list[str], U64]:
        """The peer set as segment names and (segment name index, destination high, low)."""
        rows = self.known_peers()
        ids, index = np.unique(rows[:, 0], return_inverse=True)
        names = [self.segments.name(int(i))[0] for i in ids.tolist()]
        return names, np.column_stack((index.astype(np.uint64), rows[:, 1], rows[:, 2]))

    def _rebuild(self, keep: npt.NDArray[np.bool_], rows: int, pairs: int) -> None:
        old = (self.ports, self.pairs)
        self._tables(rows, pairs)
        kept = wk.rebuild(*old, keep, self.ports, self.pairs, self.seed)
        self.open_rows, self.open_pairs = int(kept[0]), int(kept[1])

    def _close(self, below: int) -> None:
        """Hand out the rows of windows below `below` and keep the others open."""
        self.closed_below = max(self.closed_below, below)
        if not self.open_rows:
            return
        window = self.ports[:, wk.WINDOW]
        done = (self.ports[:, 0] != 0) & (window < np.uint64(max(below, 0)))
        if not done.any():
            return
        rows = self.ports[done]
        if int(done.sum()) == self.open_rows:
            self.ports.fill(0)
            self.pairs.fill(0)
            self.open_rows = self.open_pairs = 0
        else:
            self._rebuild(~done, len(self.ports), len(self.pairs))
        order = np.lexsort((rows[:, wk.MAC], rows[:, wk.SEG], rows[:, wk.WINDOW]))
        rows = rows[order]
        seg_ids, seg_of = np.unique(rows[:, wk.SEG], return_inverse=True)
        names = [self.segments.name(int(s)) for s in seg_ids.tolist()]
        vnis = [s & 0xFFFFFF if s < col.OTHER_SEGMENTS else None for s in seg_ids.tolist()]
        self.alerts += self.emit(
            WindowRows(
                self._source(),
                tuple(names[i][0] for i in seg_of.tolist()),
                tuple(vnis[i] for i in seg_of.tolist()),
                rows[:, wk.MAC],
                rows[:, wk.WINDOW].astype(np.int64) * self.window_ns,
                rows[:, wk.FIRST].astype(np.int64),
                rows[:, wk.FIRST_TS].astype(np.int64),
                rows[:, wk.COUNTS].astype(np.int64),
            )
        )


def peer_table(triples: U64, seed: U64, room: int = 0) -> U64:
    """A peer set holding (segment id, destination high, low) rows, with room for `room` more
    before it is half full."""
    size = 1 << 10
    while 2 * (len(triples) + room) >= size:
        size *= 2
    out = np.zeros((size, 4), np.uint64)
    wk.add_peers(out, seed[5], np.ascontiguousarray(triples, dtype=np.uint64))
    return out
