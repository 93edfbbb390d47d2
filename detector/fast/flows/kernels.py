"""The numba kernel of the IPFIX batch path: flow records (RFC 7011) to settled-key columns."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from detector.fast.hashtable import probe_one
from detector.fast.packets.kernels import V4_MARK, mix, u64
from detector.jit import CACHE


@numba.njit(cache=CACHE, nogil=True)
def flow_kernel(
    b: Any,
    size: Any,
    n: Any,
    mac_off: Any,
    seg_off: Any,
    src_off: Any,
    src_v6: Any,
    dst_off: Any,
    code: Any,
    outer_hi: Any,
    outer_lo: Any,
    keys: Any,
    hashes: Any,
    tab_h: Any,
    tab_k: Any,
    used: Any,
    cached: Any,
    seed: Any,
) -> Any:
    """IPFIX records (RFC 7011) to key columns and their hashes (code 0 rows: the exact path);
    mark the rows whose key the settled-key table holds, and return how many others it lacks."""
    for r in range(n):
        base = r * size
        segment = u64(b, base + seg_off, 8)
        kind = segment >> np.uint64(56)
        encap = 1 if kind == 7 else (2 if kind == 1 else 0)  # layer2SegmentId type: Geneve, VXLAN
        if encap == 0 or b[base + mac_off] & 1:
            continue  # another segment type, or a group source MAC: exact
        if src_v6 and u64(b, base + src_off, 8) == V4_MARK:
            continue  # ffff:ffff:ffff:ffff::/64 would read as IPv4 in the key: exact
        keys[0, r] = encap
        keys[1, r] = segment & np.uint64(0xFFFFFF)
        keys[2, r] = u64(b, base + mac_off, 6)
        keys[3, r] = code
        if src_v6:
            keys[4, r] = u64(b, base + src_off, 8)
            keys[5, r] = u64(b, base + src_off + 8, 8)
        else:
            keys[4, r] = V4_MARK
            keys[5, r] = u64(b, base + src_off, 4)
        keys[6, r] = outer_hi
        keys[7, r] = outer_lo
        if dst_off >= 0:
            keys[8, r] = not b[base + dst_off] & 1
    mix(keys, hashes, seed)
    misses = 0
    for r in range(n):
        if keys[3, r] != 0:
            if probe_one(tab_h, tab_k, used, hashes, keys, r):
                cached[r] = True
            else:
                misses += 1
    return misses
