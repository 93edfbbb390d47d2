"""The per-port timeline: packets, bytes and destinations per (port, source, endpoint, bucket).

Rows come in batches of numbers: settled frames straight from the batch path's columns, frames
of the exact path one by one (`add_frame`). A numba kernel aggregates them into open buckets;
a bucket is written out once the capture's clock is `slack` buckets past it. A frame later than
that starts a second row for its key (its packets are counted as `late`). When more than
`max_open` rows and destinations are open (a flood of new sources or peers), every open row is
written out early (counted as `splits`), so memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import functools
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.bindings.learn import EXEMPT_SOURCES, arp_claim
from detector.fast.lazy import Lazy
from detector.fast.packets import columns as col
from detector.values import Frame, PortKey

tk: Any = Lazy("detector.fast.timeline.kernels")  # numba loads when a timeline is first made

Rows = dict[str, Any]  # column name → numpy array, as tables.TIMELINE_COLUMNS names them
U64 = npt.NDArray[np.uint64]


def frame_source(frame: Frame) -> str | None:
    """The source the table checks for this frame, as the columns define it (code 1, 2, 3)."""
    if frame.arp is not None:
        return arp_claim(frame, frame.src_mac or "")
    ip = frame.src_ip
    return None if ip is None or ip in EXEMPT_SOURCES else ip


@functools.lru_cache(maxsize=1 << 16)
def split_address(address: str | None) -> tuple[int, int]:
    """An address as the columns hold it: (high, low) words, high all ones for IPv4."""
    if address is None:
        return 0, 0
    if ":" not in address:
        return 0xFFFF_FFFF_FFFF_FFFF, int.from_bytes(socket.inet_pton(socket.AF_INET, address))
    hi, lo = struct.unpack(">QQ", socket.inet_pton(socket.AF_INET6, address))
    return hi, lo


@functools.lru_cache(maxsize=1 << 16)
def _text(hi: int, lo: int) -> str | None:
    return None if hi == 0 and lo == 0 else col.ip_text(hi, lo)  # (0, 0): no address


class Timeline:
    """Aggregate timeline rows and hand closed buckets, as columns, to `emit`."""

    def __init__(
        self,
        emit: Callable[[Rows], None],
        bucket_seconds: float = 1.0,
        slack: int = 2,
        max_open: int = 1 << 21,
    ) -> None:
        self.emit = emit
        self.bucket_ns = max(1, round(bucket_seconds * 1e9))
        self.slack = slack
        self.max_open = max_open
        self.segments = col.SegmentIds()
        self._pending: list[tuple[int, ...]] = []
        self.open_groups = self.open_pairs = 0
        self.newest = -1  # the newest bucket seen
        self.written_below = 0  # buckets below this have been written out
        self.rows_out = self.late = self.splits = 0
        self.seed = np.frombuffer(os.urandom(64), dtype=np.uint64) | np.uint64(1)
        self._tables(1 << 12, 1 << 12)

    def _tables(self, groups: int, pairs: int) -> None:
        self.groups = np.zeros((groups, tk.GROUP_COLUMNS), np.uint64)
        self.pairs = np.zeros((pairs, tk.PAIR_COLUMNS), np.uint64)  # IPv6 destinations
        self.pairs4 = np.zeros(pairs, np.uint64)  # IPv4 destinations, one word each

    @staticmethod
    def warm() -> None:
        """Load the aggregation kernels now, on a scratch timeline."""
        scratch = Timeline(lambda rows: None)
        one = np.ones(1, np.bool_)
        zero = np.zeros(1, np.int64)
        cols, keys = np.zeros((9, 1), np.uint64), np.zeros((7, 1), np.uint64)
        cols[0], keys[0] = col.ENCAP_GENEVE, col.ENCAP_GENEVE << 24  # a Geneve port, VNI 0
        scratch.add_columns(cols, np.zeros((2, 1), np.uint64), one, zero, zero)
        scratch.add(keys, np.zeros((2, 1), np.uint64), zero, zero)
        scratch.close()

    def add_frame(
        self, frame: Frame, port: PortKey, source: str | None, unbound: bool, nbytes: int
    ) -> None:
        """One frame of the exact path; aggregated with the rest at `end_batch`."""
        bucket = max(frame.ts_ns, 0) // self.bucket_ns
        dst = frame.arp.target_ip if frame.arp is not None else frame.dst_ip
        self._pending.append(
            (
                self.segments.id(frame.encap, port.segment),
                int(port.mac.replace(":", ""), 16),
                *split_address(source),
                *split_address(frame.outer_src),
                bucket,
                *split_address(dst),
                nbytes,
                int(unbound),
            )
        )

    def add(self, keys: U64, dst: U64, nbytes: npt.NDArray[np.int64], unbound: Any) -> None:
        """Rows as columns: keys (7, n) as the timeline kernels order them, destinations (2, n)."""
        self._add_rows(keys, dst, nbytes, unbound)

    def _add_rows(self, keys: U64, dst: U64, nbytes: npt.NDArray[np.int64], unbound: Any) -> None:
        n, start = keys.shape[1], 0
        if not n:
            return
        self.late += int((keys[6] < self.written_below).sum())
        self.newest = max(self.newest, int(keys[6].max()))
        while start < n:
            room = self._room()
            groups, pairs, start = tk.aggregate(
                keys,
                dst,
                nbytes,
                unbound,
                self.groups,
                self.pairs,
                self.pairs4,
                self.seed,
                start,
                *room,
            )
            self.open_groups += int(groups)
            self.open_pairs += int(pairs)

    def add_columns(
        self,
        cols: U64,
        dst: U64,
        take: npt.NDArray[np.bool_],
        ts_ns: npt.NDArray[np.int64],
        nbytes: npt.NDArray[np.int64],
    ) -> None:
        """The batch path's settled rows (`take`), straight from its (9, n) columns."""
        n, start = len(take), 0
        while start < n:
            room = self._room()
            groups, pairs, late, newest, start = tk.aggregate_columns(
                cols,
                dst,
                take,
                ts_ns,
                self.bucket_ns,
                self.written_below,
                nbytes,
                self.groups,
                self.pairs,
                self.pairs4,
                self.seed,
                start,
                *room,
            )
            self.open_groups += int(groups)
            self.open_pairs += int(pairs)
            self.late += int(late)
            self.newest = max(self.newest, int(newest))

    def end_batch(self) -> None:
        """Aggregate the exact path's frames, then write out the buckets that are closed."""
        pending, self._pending = self._pending, []
        self._end(pending)

    def close(self) -> None:
        """Write out every open row."""
        pending, self._pending = self._pending, []
        self._end(pending)
        self._write(self.newest + 1)

    def _end(self, pending: list[tuple[int, ...]]) -> None:
        if pending:
            rows = np.array(pending, dtype=np.uint64).T
            self._add_rows(
                np.ascontiguousarray(rows[:7]),
                np.ascontiguousarray(rows[7:9]),
                rows[9].astype(np.int64),
                rows[10].astype(np.int64),
            )
        if self.open_groups + self.open_pairs > self.max_open:
            self.splits += 1
            self._write(self.newest + 1)
        elif self.newest - self.slack > self.written_below:
            self._write(self.newest - self.slack)

    def _room(self) -> tuple[int, int]:
        """How many new groups and pairs the tables take before they are half full; a full
        one doubles first. Sized by what is open, not by the batch: small tables stay in cache."""
        groups, pairs = len(self.groups), len(self.pairs)
        if 2 * self.open_groups >= groups - 2:
            groups *= 2
        if 2 * self.open_pairs >= pairs - 2:
            pairs *= 2
        if (groups, pairs) != (len(self.groups), len(self.pairs)):
            self._rebuild(np.ones(len(self.groups), np.bool_), groups, pairs)
        return groups // 2 - self.open_groups, pairs // 2 - self.open_pairs

    def _rebuild(self, keep: npt.NDArray[np.bool_], groups: int, pairs: int) -> None:
        old = (self.groups, self.pairs, self.pairs4)
        self._tables(groups, pairs)
        kept = tk.rebuild(*old, keep, self.groups, self.pairs, self.pairs4, self.seed)
        self.open_groups, self.open_pairs = int(kept[0]), int(kept[1])

    def _write(self, below: int) -> None:
        """Emit the rows of buckets below `below` and keep the others open."""
        self.written_below = max(self.written_below, below)
        if not self.open_groups:
            return
        bucket = self.groups[:, tk.KEY + 6]
        done = (self.groups[:, 0] != 0) & (bucket < np.uint64(max(below, 0)))
        if not done.any():
            return
        rows = self.groups[done]
        left = self.open_groups - len(rows)
        self._rebuild(~done, _keep(len(self.groups), left), _keep(len(self.pairs), self.open_pairs))
        keys = rows[:, tk.KEY : tk.KEY + tk.GROUP_WIDTH]
        order = np.lexsort(tuple(keys[:, c] for c in (5, 4, 3, 2, 1, 0, 6)))
        self.rows_out += len(order)
        self.emit(self._columns(keys[order], rows[order].astype(np.int64)))

    def _columns(self, keys: U64, vals: npt.NDArray[np.int64]) -> Rows:
        seg_ids, seg_of = np.unique(keys[:, 0], return_inverse=True)
        segments = [self.segments.name(int(s)) for s in seg_ids]
        return {
            "time": (keys[:, 6].astype(np.int64) * self.bucket_ns).astype("datetime64[ns]"),
            "segment": np.array([s for s, _ in segments], dtype=object)[seg_of],
            "encap": np.array([e for _, e in segments], dtype=object)[seg_of],
            "mac": np.array([_mac(m) for m in keys[:, 1].tolist()], dtype=object),
            "src_ip": _addresses(keys[:, 2], keys[:, 3]),
            "tunnel_endpoint": _addresses(keys[:, 4], keys[:, 5]),
            "packets": vals[:, tk.PACKETS],
            "bytes": vals[:, tk.BYTES],
            "destinations": vals[:, tk.DESTINATIONS],
            "unbound_packets": vals[:, tk.UNBOUND],
            "bound": vals[:, tk.UNBOUND] == 0,
        }


def _capacity(n: int) -> int:
    """A power of two that keeps n entries at most a quarter full."""
    return max(1 << 12, 1 << (4 * n).bit_length())


def _keep(capacity: int, n: int) -> int:
    """The capacity after a write: the same (the next bucket will need as much), unless a
    flood left it far larger than what stays open."""
    return capacity if capacity <= 16 * _capacity(n) else _capacity(n)


def _addresses(hi: U64, lo: U64) -> npt.NDArray[Any]:
    return np.array([_text(h, x) for h, x in zip(hi.tolist(), lo.tolist(), strict=True)], object)


_mac = functools.lru_cache(maxsize=1 << 16)(col.mac_text)
