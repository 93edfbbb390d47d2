"""The walk of a TPACKET_V3 block compiled with numba: tpacket3_hdr list in, offset columns out.

Block header (struct tpacket_block_desc, <linux/if_packet.h>): num_pkts at 12,
offset_to_first_pkt at 16, blk_len at 20. Frame header (struct tpacket3_hdr): tp_next_offset 0,
tp_sec 4, tp_nsec 8, tp_snaplen 12, tp_len 16, tp_status 20, tp_mac 24 (u16), tp_vlan_tci 32,
tp_vlan_tpid 36 (u16). Host byte order (little-endian here). Every offset is checked against
the block: a header that points outside it ends the walk of that block.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from detector.jit import CACHE

TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40


@numba.njit(cache=CACHE, nogil=True, inline="always")
def _u32(b: Any, i: Any) -> Any:
    return (
        np.int64(b[i]) | (np.int64(b[i + 1]) << 8) | (np.int64(b[i + 2]) << 16)
        | (np.int64(b[i + 3]) << 24)
    )  # fmt: skip


@numba.njit(cache=CACHE, nogil=True)
def walk(b: Any, base: Any, size: Any, offs: Any, caps: Any, origs: Any, ts: Any, at: Any) -> Any:
    """Append the frames of the block at `base` (of `size` bytes) from row `at`; return the
    next free row. A frame whose VLAN tag the kernel took off gets it back, in place."""
    n = _u32(b, base + 12)
    p = base + _u32(b, base + 16)
    end = base + size
    for _ in range(n):
        if p < base + 20 or p + 48 > end or at >= len(offs):
            break
        snap, length, status = _u32(b, p + 12), _u32(b, p + 16), _u32(b, p + 20)
        mac = p + (np.int64(b[p + 24]) | (np.int64(b[p + 25]) << 8))
        if mac + snap > end or mac < p + 48:
            break
        if status & TP_STATUS_VLAN_VALID and snap >= 12 and mac - 4 >= p + 48:
            tci = _u32(b, p + 32) & 0xFFFF
            tpid = np.int64(0x8100)
            if status & TP_STATUS_VLAN_TPID_VALID:
                tpid = np.int64(b[p + 36]) | (np.int64(b[p + 37]) << 8)
            for k in range(12):  # the MAC addresses, four bytes earlier
                b[mac - 4 + k] = b[mac + k]
            b[mac + 8], b[mac + 9] = tpid >> 8, tpid & 0xFF
            b[mac + 10], b[mac + 11] = tci >> 8, tci & 0xFF
            mac -= 4
            snap += 4
            length += 4
        offs[at] = mac
        caps[at] = snap
        origs[at] = length
        ts[at] = _u32(b, p + 4) * 1_000_000_000 + _u32(b, p + 8)
        at += 1
        step = _u32(b, p)
        if step == 0:
            break
        p += step
    return at
