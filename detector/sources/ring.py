"""A TPACKET_V3 receive ring (packet(7), Documentation/networking/packet_mmap.rst): the kernel
writes frames into blocks of memory shared with us, and a block is handed over whole, when it
is full or when `tp_retire_blk_tov` milliseconds have passed since its first frame.

A batch is the frames of the blocks ready now, read in place: a numba walk of each block's
tpacket3_hdr list gives their offsets, lengths and kernel timestamps, and the record batch's
buffer is the mapped ring itself, so no frame is copied. A VLAN tag the kernel took off (it
says so in tp_status and keeps it in tp_vlan_tci) is put back in place: the MAC addresses move
four bytes into the headroom the kernel leaves before each frame (PACKET_RESERVE makes sure of
it) and the tag goes after them. The blocks of a batch go back to the kernel when the next batch
is asked for: `spoofwatch run` is done with a batch by then (what its worker threads keep is
copied), and it must be, as poll() reports the ring readable for as long as the block retired
last is still ours. Drops come from PACKET_STATISTICS (tpacket_stats_v3: tp_drops,
tp_freeze_q_cnt).
"""

from __future__ import annotations

import contextlib
import mmap
import select
import socket
import struct
from collections import deque
from typing import Any

import numpy as np

from detector.values import LINKTYPE_ETHERNET, RecordBatch

SOL_PACKET = 263
PACKET_RX_RING, PACKET_STATISTICS, PACKET_VERSION, PACKET_RESERVE = 5, 6, 10, 12
TPACKET_V3 = 2
TP_STATUS_KERNEL, TP_STATUS_USER = 0, 1
BLOCK = 1 << 22  # bytes a block: some 6,000 mirror frames of 600 bytes
FRAME = 2048  # tp_frame_size: only checked by the kernel for V3, frames are packed
RETIRE_MS = 100  # a partly filled block is handed over after this: the alert latency bound
_KERNEL: Any = None


def _kernel() -> Any:
    """The numba walk, imported on first use (loading it compiles or reads a cache)."""
    global _KERNEL
    if _KERNEL is None:
        from detector.sources import ringwalk

        _KERNEL = ringwalk
    return _KERNEL


class Ring:
    """A TPACKET_V3 ring on an AF_PACKET socket (set up before it is bound); OSError if the
    kernel refuses one."""

    def __init__(self, sock: socket.socket, ring_mb: int, retire_ms: int = RETIRE_MS) -> None:
        self.sock = sock
        self.blocks = max(2, ring_mb * (1 << 20) // BLOCK)
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        sock.setsockopt(SOL_PACKET, PACKET_RESERVE, 4)  # headroom to put a VLAN tag back
        req = struct.pack(
            "IIIIIII", BLOCK, self.blocks, FRAME, self.blocks * BLOCK // FRAME, retire_ms, 0, 0
        )
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        self.map = mmap.mmap(sock.fileno(), self.blocks * BLOCK, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)  # fmt: skip
        self.mem = np.frombuffer(self.map, dtype=np.uint8)
        self.next = 0  # the block to read next
        self.held: deque[list[int]] = deque()  # blocks of the last batch, not yet given back
        self.poll = select.poll()
        self.poll.register(sock.fileno(), select.POLLIN | select.POLLERR)
        self.number = 1
        self.drops = self.freezes = 0
        self.warm()

    @staticmethod
    def warm() -> None:
        """Load the compiled walk now: a collector must not stall on its first busy block."""
        scratch = np.zeros(256, np.uint8)
        out = np.zeros(1, np.int64)
        _kernel().walk(scratch, 0, 256, out, out.copy(), out.copy(), out.copy(), 0)

    def ready(self, block: int) -> bool:
        return bool(self.mem[block * BLOCK + 8] & TP_STATUS_USER)

    def next_batch(self, name: str, wait: float, max_packets: int) -> RecordBatch | None:
        """The frames of the blocks ready now (waiting up to `wait` seconds for one), up to
        about `max_packets`; None if none came."""
        while self.held:  # the last batch is done with
            for block in self.held.popleft():
                self.mem[block * BLOCK + 8 : block * BLOCK + 12] = TP_STATUS_KERNEL
        if not self.ready(self.next) and not self.poll.poll(max(0, int(wait * 1000))):
            return None
        blocks: list[int] = []
        counts = 0
        while self.ready(self.next) and (not blocks or counts < max_packets):
            blocks.append(self.next)
            counts += int(
                self.mem[self.next * BLOCK + 12 : self.next * BLOCK + 16].view(np.uint32)[0]
            )
            self.next = (self.next + 1) % self.blocks
            if len(blocks) == self.blocks - 1:
                break  # keep a block for the kernel
        if not blocks:
            return None
        self.held.append(blocks)
        return self._batch(name, blocks, counts)

    def _batch(self, name: str, blocks: list[int], n: int) -> RecordBatch:
        offsets = np.empty(n, np.int64)
        caplens = np.empty(n, np.int64)
        origlens = np.empty(n, np.int64)
        ts_ns = np.empty(n, np.int64)
        at = 0
        for block in blocks:
            at = _kernel().walk(
                self.mem, block * BLOCK, BLOCK, offsets, caplens, origlens, ts_ns, at
            )
        batch = RecordBatch(
            name, self.map, offsets[:at], caplens[:at], origlens[:at], ts_ns[:at],
            np.full(at, LINKTYPE_ETHERNET, np.int64), self.number,
        )  # fmt: skip
        self.number += at
        return batch

    def statistics(self) -> tuple[int, int]:
        """Kernel drops and queue freezes so far (the kernel resets its counters on read)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
        _packets, drops, freezes = struct.unpack("III", raw)
        self.drops += drops
        self.freezes += freezes
        return self.drops, self.freezes

    def close(self) -> None:
        self.poll.unregister(self.sock.fileno())
        del self.mem
        with contextlib.suppress(BufferError):  # a batch still holds a view: unmapped with it
            self.map.close()
